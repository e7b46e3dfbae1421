"""Small helpers shared by tests."""

from __future__ import annotations

import os


def scaled(seconds: float) -> float:
    """A timeout stretched by JOBTERM_TEST_TIMEOUT_SCALE (slow machines, CI)."""
    return seconds * float(os.environ.get("JOBTERM_TEST_TIMEOUT_SCALE", "1"))
