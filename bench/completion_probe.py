"""A shell completion answered from jobterm's cache (`jobterm attach <TAB>`)."""

from __future__ import annotations

import importlib.util
from typing import Any

from world import Unavailable, World


def measure(world: World, runs: int) -> dict[str, Any]:
    if importlib.util.find_spec("jobterm.completion") is None:
        raise Unavailable("jobterm.completion not built yet")
    raise Unavailable("completion probe not written yet")
