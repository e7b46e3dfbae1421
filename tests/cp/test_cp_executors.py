"""`jobterm cp JOB:relative/path` reads from the build directory whatever the executor: from
$CI_PROJECT_DIR where the terminal's shell has it (docker, kubernetes), from the directory
the job's log names where it has not (the shell executor starts it in the runner's own
directory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from util import scaled

RUNNERS = {"shell": 11, "docker": 12, "kubernetes": 13}


def world() -> dict[str, Any]:
    return {
        "settings": {"prepare_seconds": 0.1},
        "runners": [
            {"id": runner, "description": f"{name} runner", "executor": name}
            for name, runner in RUNNERS.items()
        ],
        "jobs": [
            {
                "id": 970 + n,
                "name": f"report-{name}",
                "runner": runner,
                "script": [f"mkdir -p reports && echo {name}-report > reports/r.txt", "sleep 600"],
            }
            for n, (name, runner) in enumerate(RUNNERS.items())
        ],
    }


def jobterm(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobterm", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )


@pytest.mark.parametrize("executor", list(RUNNERS))
def test_relative_paths_are_in_the_build_directory(
    make_sandbox: Any, signed_in: Any, tmp_path: Path, executor: str
) -> None:
    sandbox = make_sandbox(world())
    env = signed_in(sandbox)
    job = str(970 + list(RUNNERS).index(executor))
    deadline = time.monotonic() + scaled(15)
    while True:  # until the script has written its report
        down = jobterm(env, "cp", "-p", "demo/webapp", f"{job}:reports/r.txt", tmp_path / "r")
        if down.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "r").read_text() == f"{executor}-report\n"
    (tmp_path / "up.txt").write_text("uploaded\n")
    up = jobterm(env, "cp", "-p", "demo/webapp", tmp_path / "up.txt", f"{job}:reports/")
    assert up.returncode == 0, up.stderr
    back = jobterm(env, "cp", "-p", "demo/webapp", f"{job}:reports/up.txt", tmp_path / "b")
    assert back.returncode == 0, back.stderr
    assert (tmp_path / "b").read_text() == "uploaded\n"


def test_a_relative_path_with_no_known_build_directory_is_refused(
    make_sandbox: Any, signed_in: Any, tmp_path: Path
) -> None:
    """GIT_STRATEGY none: the log names no directory, and a shell executor's terminal has no
    $CI_PROJECT_DIR: a relative path would land in the runner's own directory. Refused."""
    config = world()
    config["jobs"][0]["git_strategy"] = "none"
    sandbox = make_sandbox(config)
    env = signed_in(sandbox)
    (tmp_path / "up.txt").write_text("x\n")
    up = jobterm(env, "cp", "-p", "demo/webapp", tmp_path / "up.txt", "970:up.txt")
    assert up.returncode == 30, up.stderr
    assert "the job's build directory is unknown" in up.stderr
    assert up.stderr.count("\n") == 1
    down = jobterm(env, "cp", "-p", "demo/webapp", "970:/etc/hostname", tmp_path / "h")
    assert down.returncode == 0, down.stderr  # an absolute path needs no build directory


def test_a_copy_from_a_terminal_that_never_answers_ends_at_its_timeout(
    make_sandbox: Any, signed_in: Any, tmp_path: Path
) -> None:
    """Every network wait has a bound: cp --timeout, as exec's (exit 12, one line)."""
    sandbox = make_sandbox(world())
    env = signed_in(sandbox)
    sandbox.admin("PUT", "/jobs/970/terminal/faults", silent=True)
    done = jobterm(
        env, "cp", "--timeout", "1s", "-p", "demo/webapp", "970:/etc/hostname", tmp_path / "h"
    )
    assert done.returncode == 12, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "h").exists()
