"""Shared fixtures. Each area keeps its fixtures in its own plugin module beside this file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = [
    name
    for name in ("fixtures_sandbox", "fixtures_auth", "fixtures_term")
    if (Path(__file__).parent / f"{name}.py").exists()
]

os.environ.setdefault("JOBTERM_TEST_TIMEOUT_SCALE", "1")
