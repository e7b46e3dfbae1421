"""Start-up: how long until a command has done its first useful thing.

Each is the median of several runs, beside `python -c pass` (the interpreter's own start-up,
the floor for any Python CLI).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

from ptyrun import PtyProcess


def median_of(runs: int, once: Callable[[], float]) -> dict[str, Any]:
    once()  # warm-up: page cache, __pycache__; not counted
    samples = [once() for _ in range(runs)]
    return {
        "runs": runs,
        "median_ms": statistics.median(samples) * 1000,
        "min_ms": min(samples) * 1000,
    }


def wall(
    argv: list[str], env: dict[str, str], *, ok: Callable[[bytes], bool] | None = None
) -> float:
    """Seconds from spawn to exit of `argv`; its status must be 0 (and `ok(stdout)` true)."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or (ok is not None and not ok(done.stdout)):
        err = done.stderr.decode(errors="replace").strip()[-200:]
        raise RuntimeError(f"{' '.join(argv[-3:])} exited {done.returncode}: {err}")
    return elapsed


def attach_first_prompt(argv: list[str], env: dict[str, str], leave: bytes = b"\r~.") -> float:
    """Seconds from starting `jobterm attach` (or a client that says `attached to` the same
    way, and leaves on `leave`) to the first byte of the job's prompt."""
    with PtyProcess(argv, env) as p:
        p.expect(b"attached to", 30)
        p.expect(b"\n", 30)
        while not p.buffer:
            p.buffer += p.read_some(30)
        elapsed = time.perf_counter() - p.started
        p.write(leave)
        p.wait(20)
        return elapsed
