"""`jobterm debug` and `jobterm logs -f`, timed against a sandbox running real scripts.

* debug: from the job entering `running` (the control API starts a pending job that
  `jobterm debug --exec true` follows) to the sandbox seeing its terminal attached. A runner
  holds a job only for a terminal attached before its script ends, so this is the window
  that matters. Goal: median under 0.5 s.
* logs -f: from a line written to a running job's log (the script echoes it when the bench
  creates a file) to `jobterm logs -f` printing it. Goal: every delay under the poll
  interval + 0.1 s.

Each is measured in a world of its own (a sandbox with the jobs it needs), timed here with
time.perf_counter(); the control API is polled every 5 ms, which bounds the error.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from ptyrun import PtyProcess
from report import Figures
from world import Unavailable, World, jobterm_argv

LOG_INTERVAL = 0.5  # what `jobterm logs -f` polls at by default (JOBTERM_LOG_INTERVAL)
LINES = 10


def _config(gates: Path) -> str:
    """The world's TOML: retried jobs stay pending until the bench starts them; a job whose
    script echoes line i when the file go-i appears."""
    echo_on_gate = (
        f"for i in $(seq 1 {LINES}); do while [ ! -e {gates}/go-$i ]; do sleep 0.001; done; "
        "echo line-$i-written; done"
    )
    return f"""
[settings]
retry_pending_seconds = 100000
prepare_seconds = 0

[[jobs]]
id = 990
name = "bench-debug"
status = "failed"
script = ["sleep 100000"]

[[jobs]]
id = 991
name = "bench-logs"
script = [{json.dumps(echo_on_gate)}]
"""


def _start(world: World, gates: Path) -> None:
    path = world.tmp / "bench-world.toml"
    path.write_text(_config(gates))
    world.start(config=path)


def _retry(world: World, job_id: int) -> int:
    import urllib.request

    token = next(u["token"] for u in world.info["users"] if u["username"] == "demo")
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
        f"{world.url}/api/v4/projects/1/jobs/{job_id}/retry",
        method="POST",
        headers={"PRIVATE-TOKEN": token},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return int(json.loads(answer.read())["id"])


def _until_attached(world: World, job_id: int, timeout: float = 10.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if world.control("GET", f"/jobs/{job_id}")["terminal_attached"]:
            return time.perf_counter()
        time.sleep(0.005)
    raise Unavailable(f"jobterm did not attach to job {job_id}")


def measure_debug(repeats: int) -> Figures:
    with World() as world:
        _start(world, world.tmp)
        delays = []
        for k in range(repeats):
            job_id = _retry(world, 990)
            argv = [*jobterm_argv(), "debug", str(job_id), "-p", "demo/webapp", "--exec", "true"]
            with PtyProcess(argv, world.env) as debug:
                debug.expect(b"waiting for a runner", 30)
                time.sleep(0.2 * ((k * 0.37) % 1))  # a runner picks the job up at any moment
                began = time.perf_counter()
                world.control("POST", f"/jobs/{job_id}/start")
                delays.append(_until_attached(world, job_id) - began)
                world.control("POST", f"/jobs/{job_id}/finish", {"status": "canceled"})
                debug.wait(20)
        return _figures(delays, goal_s=0.5)


def measure_logs(repeats: int) -> Figures:
    with World() as world:
        gates = world.tmp / "gates"
        gates.mkdir()
        _start(world, gates)
        env = dict(world.env, JOBTERM_LOG_INTERVAL=str(LOG_INTERVAL))
        argv = [*jobterm_argv(), "logs", "991", "-p", "demo/webapp", "-f"]
        delays = []
        with PtyProcess(argv, env) as follow:
            follow.expect(b"Executing", 30)
            for i in range(1, min(repeats, LINES) + 1):
                time.sleep(LOG_INTERVAL * 0.37 * (i % 3))  # not in step with the polls
                began = time.perf_counter()
                (gates / f"go-{i}").touch()
                follow.expect(f"line-{i}-written".encode(), 10)
                delays.append(time.perf_counter() - began)
        figures = _figures(delays, goal_s=LOG_INTERVAL + 0.1, worst=True)
        return {**figures, "interval_s": LOG_INTERVAL}


def _figures(delays: list[float], goal_s: float, worst: bool = False) -> Figures:
    if not delays:
        raise Unavailable("nothing measured")
    median = statistics.median(delays)
    judged = max(delays) if worst else median
    return {
        "median_ms": median * 1000,
        "max_ms": max(delays) * 1000,
        "runs": len(delays),
        "goal": f"{'met' if judged < goal_s else 'MISSED'} ({'max' if worst else 'median'} "
        f"{judged * 1000:.0f} ms < {goal_s * 1000:.0f} ms)",
    }


def lines(results: Figures) -> list[str]:
    return table(
        "jobterm debug and logs -f",
        results,
        (
            ("debug_attach", "debug: job running -> terminal attached"),
            ("logs_follow", "logs -f: line written -> printed"),
        ),
    )


def table(title: str, results: Figures, rows: tuple[tuple[str, str], ...]) -> list[str]:
    """The report's rows of these figures: median, max and the goal's verdict."""
    from report import _na_row, _row, is_na

    out = [title, _row("", "median", "max", "goal")]
    for key, label in rows:
        value = results.get(key)
        if value is None:
            continue
        if is_na(value):
            out.append(_na_row(label, value))
            continue
        out.append(_row(label, f"{value['median_ms']:.0f} ms", f"{value['max_ms']:.0f} ms", ""))
        out.append(f"    {value['goal']}")
    return out
