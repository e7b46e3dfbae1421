"""Small helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any


def scaled(seconds: float) -> float:
    """A timeout stretched by JOBTERM_TEST_TIMEOUT_SCALE (slow machines, CI)."""
    return seconds * float(os.environ.get("JOBTERM_TEST_TIMEOUT_SCALE", "1"))


def alive(pid: int) -> bool:
    """The process exists and has not ended (a zombie waiting for its parent has; Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the fields after the command name, which may hold spaces and parentheses
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def process_gone(pid: int, within: float = 10) -> bool:
    """Whether process `pid` ends within `within` seconds (scaled)."""
    deadline = time.monotonic() + scaled(within)
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def popen_piped(argv: list[str], env: dict[str, str], **options: Any) -> subprocess.Popen[bytes]:
    """`argv` running with no stdin and its stdout and stderr piped to the test."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        **options,
    )
