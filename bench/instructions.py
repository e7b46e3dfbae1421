"""Start-up in instructions, not seconds: what `attach` executes before the job's first prompt
byte reaches the terminal, counted by callgrind, vs `bare_relay.py` counted the same way.

Why a second measure of the same row: wall-clock ratios of two ~90 ms processes move by a
tenth from one run to the next on a shared two-core machine, which is as much as the goal's
whole margin. An instruction count is nearly the same every run, so it says whether a change
made start-up cheaper even when the clock cannot tell.

How: both programs run on a PTY (attach wants a terminal), under `valgrind --tool=callgrind`,
behind a prelude that ends the process at its first write to fd 1, which is the first byte
of the prompt for both (their notes go to fd 2). Children are not followed. Both count the
same interpreter start-up, so the difference is the programs' own work; the ratio is
therefore not the wall ratio (waiting on the network costs time but no instructions).

Without valgrind the row reads n/a; `apt-get install valgrind` provides it.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ptyrun import PtyProcess
from world import BENCH_DIR, World

# Exits at the first write to fd 1; the rest is how each program is started normally.
_PRELUDE = """\
import os, sys
_write = os.write
def _first_prompt_byte(fd, data):
    if fd == 1:
        os._exit(0)
    return _write(fd, data)
os.write = _first_prompt_byte
"""
_OURS = _PRELUDE + "from jobterm.__main__ import run\nsys.argv[0] = 'jobterm'\nsys.exit(run())\n"
_FLOOR = _PRELUDE + (
    "import runpy\nsys.argv[0] = {path!r}\nrunpy.run_path({path!r}, run_name='__main__')\n"
)
_TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def available() -> str | None:
    """None if callgrind can run here, else why not."""
    return None if shutil.which("valgrind") else "valgrind is not installed"


def count(
    code: str, args: list[str], env: dict[str, str], between: Callable[[], None] = lambda: None
) -> int:
    """Instructions `python -c code args…` executes, run on a PTY under callgrind, after one
    run that is not counted (it writes the bytecode). `between` runs before each run."""
    python = [sys.executable, "-c", code, *args]
    # A fixed hash seed: with a random one, the same run's count moves by about 0.3 %.
    env = dict(env, PYTHONHASHSEED="0")
    between()
    with PtyProcess(python, env) as warm_up:
        status = warm_up.wait(60)
    if status != 0:
        raise RuntimeError(f"the uncounted run exited {status}: {warm_up.buffer[-300:]!r}")
    between()
    with tempfile.TemporaryDirectory(prefix="jobterm-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        with PtyProcess([*grind, "--trace-children=no", *python], env) as p:
            status = p.wait(300)
        if status != 0 or not out.exists():
            raise RuntimeError(f"callgrind run exited {status}: {p.buffer[-300:]!r}")
        found = _TOTALS.search(out.read_bytes())
        if found is None:
            raise RuntimeError("callgrind wrote no instruction total")
        return int(found.group(1))


def measure(world: World) -> dict[str, Any]:
    """One counted run of each (the counts barely move between runs), and their ratio."""
    ws_url = "ws" + world.job_url()[len("http") :] + "/terminal.ws"
    relay = str(BENCH_DIR / "bare_relay.py")
    relay_env = world.bare_env()
    free = world.wait_terminal_free  # one terminal per job: the last run's must be gone
    ours = count(_OURS, ["attach", world.job_url()], world.env, free)
    floor = count(_FLOOR.format(path=relay), [ws_url], relay_env, free)
    baseline = count("pass", [], world.env)  # the interpreter's own start-up, for scale
    return {
        "ours_m": ours / 1e6,
        "floor_m": floor / 1e6,
        "python_m": baseline / 1e6,
        "x": ours / floor,
        "own_x": (ours - baseline) / (floor - baseline) if floor > baseline else None,
    }


if __name__ == "__main__":  # python bench/instructions.py: the row alone
    with World() as w:
        w.start()
        print(measure(w))
