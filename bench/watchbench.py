"""`jobterm watch`, timed against a sandbox running a real pipeline.

Each round pushes a pipeline of two jobs in one stage while `jobterm watch --wait` waits for
it: `ok` succeeds and uploads artifacts (so its result can be told), `bad` waits for the
bench, then fails before its last line. Two figures, both by the sandbox's own clock
(time.time(), the same machine's):

* failed job: from its script's end (the sandbox's `script_ended_at`) to the shell's first
  prompt byte on jobterm's terminal, after the prepared shell's line. Goal under 0.5 s.
* successful job: the time the hold added, from its script's end to the job's end (the
  runner finishes it when jobterm releases it). Goal under 0.5 s.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from debugbench import _figures
from ptyrun import PtyProcess
from report import Figures
from world import Unavailable, World, jobterm_argv

CONFIG = """
[settings]
prepare_seconds = 0
retry_pending_seconds = 0.1
"""


def _pipeline(gate: Path, k: int) -> dict[str, Any]:
    # The script's length varies with the round, so that its end falls anywhere between two
    # of jobterm's looks at the log.
    length = 1 + 0.25 * ((k * 0.37) % 1)
    return {
        "project": "demo/webapp",
        "ref": "main",
        "jobs": [
            {"name": "ok", "script": [f"sleep {length:.3f}"], "artifacts": True},
            {
                "name": "bad",
                "script": [f"while [ ! -e {gate} ]; do sleep 0.01; done", "false", "true"],
            },
        ],
    }


def _ended(world: World, job_id: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = world.control("GET", f"/jobs/{job_id}")
        if job["life"]["script_ended_at"] is not None:
            return job
        time.sleep(0.01)
    raise Unavailable(f"job {job_id}'s script never ended")


def _finished_at(job: dict[str, Any]) -> float:
    iso = str(job["rest"]["finished_at"]).replace("Z", "+00:00")
    return datetime.fromisoformat(iso).timestamp()


def measure_watch(repeats: int) -> Figures:
    with World() as world:
        path = world.tmp / "watch-world.toml"
        path.write_text(CONFIG)
        world.start(config=path)
        to_shell, added = [], []
        for k in range(repeats):
            gate = world.tmp / f"go-{k}"
            argv = [*jobterm_argv(), "watch", "--wait", "-p", "demo/webapp", "--ref", "main"]
            with PtyProcess(argv, world.env) as watch:
                watch.expect(b"waiting for a new pipeline", 30)
                ok, bad = world.control("POST", "/pipelines", _pipeline(gate, k))["jobs"]
                ended_ok = _ended(world, ok)
                gate.touch()
                watch.expect(b"[jobterm] in ", 30)
                watch.expect(b"\r\n", 10)  # the end of jobterm's line; the prompt follows
                while not watch.buffer:
                    watch.buffer += watch.read_some(1.0)
                shown = time.time()  # the shell's first prompt byte is here
                ended_bad = _ended(world, bad)["life"]["script_ended_at"]
                to_shell.append(shown - float(ended_bad))
                job = world.control("GET", f"/jobs/{ok}")
                added.append(_finished_at(job) - float(ended_ok["life"]["script_ended_at"]))
                time.sleep(0.3)
                watch.write(b"exit\r")
                watch.wait(30)
        return {"to_shell": _figures(to_shell, 0.5), "hold_added": _figures(added, 0.5)}


def lines(results: Figures) -> list[str]:
    from debugbench import table

    return table(
        "jobterm watch",
        results,
        (
            ("to_shell", "watch: failed script ended -> its shell"),
            ("hold_added", "watch: hold added to a successful job"),
        ),
    )
