"""`jobterm logs [-f] [--raw]` against the sandbox running real scripts."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fixtures_auth import jobterm
from util import scaled

HOSTILE = (
    r"printf 'title\033]0;owned\007 clear\033[2J query\033[6n bell\007 "
    r"c1\302\2332J red\033[31mRED\033[0m\n'"
)


@pytest.fixture
def world(tmp_path: Path, make_sandbox: Any, signed_in: Any) -> tuple[Any, dict[str, str]]:
    config = {
        "jobs": [
            {"id": 970, "name": "done", "status": "failed", "script": ["echo hi", "false"]},
            {
                "id": 971,
                "name": "gated",
                "script": [
                    "echo first-line",
                    f"while [ ! -e {tmp_path / 'go'} ]; do sleep 0.05; done",
                    "echo last-line",
                ],
            },
            {"id": 972, "name": "hostile", "script": [HOSTILE, "exit 2"]},
        ]
    }
    sandbox = make_sandbox(config)
    return sandbox, dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.1")


def wait_status(sandbox: Any, job_id: int, status: str) -> None:
    deadline = time.monotonic() + scaled(15)
    while sandbox.admin("GET", f"/jobs/{job_id}")["status"] != status:
        assert time.monotonic() < deadline, f"job {job_id} did not become {status}"
        time.sleep(0.05)


def test_a_finished_jobs_log_without_markers(world: tuple[Any, dict[str, str]]) -> None:
    _, env = world
    done = jobterm(["logs", "970", "-p", "demo/webapp"], env)
    assert done.returncode == 0, done.stderr
    assert "$ echo hi\n" in done.stdout
    assert "ERROR: Job failed: exit code 1\n" in done.stdout
    assert "section_" not in done.stdout
    assert "\x1b" not in done.stdout  # not a terminal: no colours either


def test_raw_is_the_log_as_stored(world: tuple[Any, dict[str, str]]) -> None:
    _, env = world
    done = jobterm(["logs", "970", "-p", "demo/webapp", "--raw"], env)
    assert done.returncode == 0
    assert "section_start:" in done.stdout
    assert "\x1b[32;1m$ echo hi\x1b[0;m" in done.stdout


def test_follow_prints_lines_as_they_come_and_exits_by_the_result(
    tmp_path: Path, world: tuple[Any, dict[str, str]]
) -> None:
    sandbox, env = world
    wait_status(sandbox, 972, "failed")
    follow = subprocess.Popen(
        [sys.executable, "-m", "jobterm", "logs", "971", "-p", "demo/webapp", "-f"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert follow.stdout is not None
        while b"first-line" not in (line := follow.stdout.readline()):
            assert line, "the log ended before its first line"
        assert follow.poll() is None  # still following: the job runs
        (tmp_path / "go").touch()
        out, err = follow.communicate(timeout=scaled(20))
    finally:
        follow.kill()
    assert b"last-line\n" in out
    assert out.endswith(b"Job succeeded\n")
    assert follow.returncode == 0
    assert b"job 971 'gated' finished: success" in err
    failed = jobterm(["logs", "972", "-p", "demo/webapp", "-f"], env)
    assert failed.returncode == 1


def test_hostile_sequences_never_reach_the_terminal(
    world: tuple[Any, dict[str, str]], spawn_jobterm: Any
) -> None:
    sandbox, env = world
    wait_status(sandbox, 972, "failed")
    run = spawn_jobterm(["logs", "972", "-p", "demo/webapp"], env)
    run.child.logfile_read = io.BytesIO()  # everything the terminal is sent
    assert run.wait_done() == 0
    shown = run.child.logfile_read.getvalue()
    assert b"title clear query bell c12J red\x1b[31mRED\x1b[0m" in shown  # colours stay
    for bad in (b"\x1b]0;", b"\x1b[2J", b"\x1b[6n", b"\x07", b"\xc2\x9b"):
        assert bad not in shown, bad
    assert b"\x1b[32;1m$ printf" in shown  # the runner's own colours on a terminal
