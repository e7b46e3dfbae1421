"""Start-up side by side with its floors, in one run (the `Start-up vs the floors` table):

* `exec JOB -- true`, wall and CPU, vs `baseline_exec.py` (websockets + the stored cookie);
* `attach`: time to the first byte of the job's prompt, vs `bare_relay.py`;
* both again against a sandbox served over https/wss (a private CA), as GitLab is served;
* both again through typer's parser (a line the quick parser leaves to it), to show in the
  same run what reading plain lines without typer saves;
* both again with the session in a keyring (as users keep it) instead of a file: the floors
  have their cookie ready, so these rows add what importing keyring costs;
* `--help`, `exec --help` and a completion request, vs `python3 -c pass`;
* fan-out: `exec` in 10 jobs with one call, vs 10 calls one after the other.

Each pair runs interleaved (a, b, a, b, …) after one warm-up of each, so a busy machine
slows both alike; figures are medians. CPU is the child's user + system time. exec's and
attach's goal rows take at least GOAL_PAIRS pairs; every goal row also gives the spread of
the per-pair wall ratios (their quartiles): a median of two ~90 ms processes moves by a
tenth between runs on a busy machine, and the spread says how far to trust it.
`instructions.py` adds the same attach row counted in instructions, which the machine's
load does not move.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import instructions
import startup
from world import BENCH_DIR, World, jobterm_argv

Figures = dict[str, Any]
GOAL_PAIRS = 25  # pairs for the rows that have a goal
FAN_OUT = tuple(range(501, 511))  # the ten extra running jobs World adds for the fan-out row
#: The same job as the other rows, but with its project glued to -p, a form the quick parser
#: leaves to typer's: the `typer` rows are the same command through the full CLI.
TYPER_PATH = ("-pdemo/webapp",)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `argv`, which must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-200:]
        raise RuntimeError(f"{' '.join(argv[-3:])} exited {done.returncode}: {err}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


Once = Callable[[], tuple[float, float]]


def paired(runs: int, ours: Once, floor: Once) -> Figures:
    """Medians of `ours` and `floor`, interleaved, and their ratios."""
    ours(), floor()  # warm-up: page cache, __pycache__
    a: list[tuple[float, float]] = []
    b: list[tuple[float, float]] = []
    for _ in range(runs):
        a.append(ours())
        b.append(floor())
    out: Figures = {"runs": runs}
    for name, samples in (("ours", a), ("floor", b)):
        out[name] = {
            "wall_ms": statistics.median(s[0] for s in samples) * 1000,
            "cpu_ms": statistics.median(s[1] for s in samples) * 1000,
        }
    out["wall_x"] = out["ours"]["wall_ms"] / out["floor"]["wall_ms"]
    ratios = [x[0] / y[0] for x, y in zip(a, b, strict=True)]
    if len(ratios) >= 4:
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        out["pair_x"] = {"q1": q1, "q3": q3}
    floor_cpu = out["floor"]["cpu_ms"]
    out["cpu_x"] = out["ours"]["cpu_ms"] / floor_cpu if floor_cpu else None
    return out


def measure(world: World, runs: int) -> Figures:
    runs = max(runs, 9)
    env = world.env

    def exec_typer() -> tuple[float, float]:
        world.wait_terminal_free()
        return run_once([*jobterm_argv(), "exec", *TYPER_PATH, "101", "--", "true"], env)

    def exec_keyring() -> tuple[float, float]:
        world.wait_terminal_free()
        argv = [*jobterm_argv(), "exec", world.job_url(), "--", "true"]
        return run_once(argv, world.keyring_env())

    def python() -> tuple[float, float]:
        return run_once([sys.executable, "-c", "pass"], env)

    def jobterm(*args: str, extra: dict[str, str] | None = None) -> Once:
        return lambda: run_once([*jobterm_argv(), *args], dict(env, **(extra or {})))

    words = "jobterm attach --project demo/webapp "
    completion = {
        "_JOBTERM_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split())),
    }
    goal_runs = max(runs, GOAL_PAIRS)
    rows: dict[str, Callable[[], Figures]] = {
        "exec_true": lambda: _exec(world, goal_runs),
        "exec_typer": lambda: paired(runs, exec_typer, _baseline(world)),
        "attach_prompt": lambda: _attach(world, goal_runs),
        "attach_instructions": lambda: _instructions(world),
        "attach_typer": lambda: _attach(world, runs, TYPER_PATH),
        "exec_keyring": lambda: paired(runs, exec_keyring, _baseline(world)),
        "attach_keyring": lambda: _attach(world, runs, env=world.keyring_env()),
        "help": lambda: paired(runs, jobterm("--help"), python),
        "exec_help": lambda: paired(runs, jobterm("exec", "--help"), python),
        "completion": lambda: _completion(world, runs, jobterm(extra=completion), python),
        "fan_out": lambda: _fan_out(world, min(runs, 3)),
    }
    return {key: _guarded(row) for key, row in rows.items()} | _over_tls(runs)


def _exec(world: World, runs: int) -> Figures:
    """`exec JOB -- true` vs baseline_exec.py, in `world`."""

    def ours() -> tuple[float, float]:
        world.wait_terminal_free()
        return run_once([*jobterm_argv(), "exec", world.job_url(), "--", "true"], world.env)

    return paired(runs, ours, _baseline(world))


def _baseline(world: World) -> Once:
    ws_url = "ws" + world.job_url()[len("http") :] + "/terminal.ws"
    argv = [sys.executable, str(BENCH_DIR / "baseline_exec.py"), ws_url]
    env = world.bare_env()

    def once() -> tuple[float, float]:
        world.wait_terminal_free()
        return run_once(argv, env)

    return once


def _over_tls(runs: int) -> Figures:
    """exec and attach again against a sandbox served over https/wss, as GitLab is: the TLS
    handshake and the trust set-up are in both columns."""
    try:
        with World(tls=True) as tls:
            tls.start()
            return {
                "exec_tls": _guarded(lambda: _exec(tls, runs)),
                "attach_tls": _guarded(lambda: _attach(tls, runs)),
            }
    except Exception as exc:
        reason = {"na": (str(exc).splitlines() or [type(exc).__name__])[0][:120]}
        return {"exec_tls": reason, "attach_tls": reason}


def _guarded(row: Callable[[], Figures]) -> Figures:
    """A row that fails is n/a with its reason; the others are still measured."""
    try:
        return row()
    except Exception as exc:
        return {"na": (str(exc).splitlines() or [type(exc).__name__])[0][:120]}


def _instructions(world: World) -> Figures:
    missing = instructions.available()
    return {"na": missing} if missing else instructions.measure(world)


def _completion(world: World, runs: int, ours: Once, floor: Once) -> Figures:
    """From the cache, as a user's Tab after any earlier command: `jobterm jobs` fills it."""
    run_once([*jobterm_argv(), "jobs", "--project", "demo/webapp"], world.env)
    return paired(runs, ours, floor)


def _attach(
    world: World,
    runs: int,
    typer_path: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Figures:
    ws_url = "ws" + world.job_url()[len("http") :] + "/terminal.ws"
    job = ["101", *typer_path] if typer_path else [world.job_url()]
    ours_env = world.env if env is None else env
    relay = [sys.executable, str(BENCH_DIR / "bare_relay.py"), ws_url]
    relay_env = world.bare_env()

    def ours() -> tuple[float, float]:
        world.wait_terminal_free()
        argv = [*jobterm_argv(), "attach", *job]
        return startup.attach_first_prompt(argv, ours_env), 0.0  # wall only

    def floor() -> tuple[float, float]:
        world.wait_terminal_free()
        return startup.attach_first_prompt(relay, relay_env, leave=b"\x1d"), 0.0

    return paired(runs, ours, floor)


def _fan_out(world: World, runs: int) -> Figures:
    jobs = [f"demo/webapp#{n}" for n in FAN_OUT]

    def free() -> None:
        for n in FAN_OUT:
            world.wait_terminal_free(n)

    def one_call() -> tuple[float, float]:
        free()
        return run_once([*jobterm_argv(), "exec", *jobs, "--", "true"], world.env)

    def ten_calls() -> tuple[float, float]:
        free()
        total = (0.0, 0.0)
        for job in jobs:
            wall, cpu = run_once([*jobterm_argv(), "exec", job, "--", "true"], world.env)
            total = (total[0] + wall, total[1] + cpu)
        return total

    return paired(runs, one_call, ten_calls)


FAN_OUT_CONFIG = "".join(
    f'[[jobs]]\nid = {n}\nproject = "demo/webapp"\nname = "fan-{n}"\nuser = "demo"\n'
    'status = "running"\nscript_seconds = "forever"\nshell = ["sh"]\n'
    for n in FAN_OUT
)
