"""Jobs with a real script: the sandbox runs it as a runner's shell executor does, writes the
runner's log, holds the job for an attached terminal (shell executor) or drops the terminal
with the script (docker executor), and retries jobs as GitLab does."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox_ws import Reader, TerminalSandbox, open_terminal, run_command, serving
from util import scaled

GATE = "while [ ! -e go ]; do sleep 0.05; done"  # the script waits until a test says go
CONFIG: dict[str, Any] = {
    "runners": [{"id": 4, "description": "docker runner", "executor": "docker"}],
    "jobs": [
        {"id": 901, "name": "green", "script": ["GREETING=hello", "echo $GREETING $CI_JOB_ID"]},
        {"id": 902, "name": "red", "script": ["echo made > left.txt", "false", "echo never"]},
        {"id": 903, "name": "exit-3", "script": ["exit 3"]},
        {"id": 904, "name": "held", "script": [GATE, "echo done > done.txt", "false"]},
        {"id": 905, "name": "docker", "runner": 4, "script": [GATE, "false"]},
        {"id": 906, "name": "slow", "script": ["echo pid=$$", "sleep 600"]},
        {"id": 907, "name": "timed", "script_seconds": None},
        {
            "id": 908,
            "name": "red-once",
            "status": "failed",
            "script": ["echo hi > x", "pwd", "false"],
        },
        {"id": 909, "name": "paths", "script": ["echo dir=$CI_PROJECT_DIR", "echo pwd=$PWD"]},
        {"id": 910, "name": "running", "script_seconds": None},
    ],
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerminalSandbox]:
    with serving(CONFIG, workdir=tmp_path_factory.mktemp("scripts")) as server:
        yield server


def trace(srv: TerminalSandbox, job_id: int) -> str:
    response = httpx.get(
        f"{srv.url}/api/v4/projects/1/jobs/{job_id}/trace",
        headers={"PRIVATE-TOKEN": srv.token("demo")},
        timeout=scaled(10),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def api(srv: TerminalSandbox, method: str, path: str) -> httpx.Response:
    return httpx.request(
        method,
        f"{srv.url}/api/v4/projects/1{path}",
        headers={"PRIVATE-TOKEN": srv.token("demo")},
        timeout=scaled(10),
    )


def wait_for(predicate: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_script_runs_in_order_with_the_runners_log(srv: TerminalSandbox) -> None:
    srv.wait_status(901, "success")
    log = trace(srv, 901)
    assert log.startswith("\x1b[0KRunning with gitlab-runner")
    assert re.search(r"section_start:\d+:step_script\r\x1b\[0K", log)
    assert re.search(r"section_end:\d+:step_script\r\x1b\[0K", log)
    assert 'Preparing the "shell" executor' in log
    assert "Using Shell (bash) executor..." in log
    assert "\x1b[32;1m$ GREETING=hello\x1b[0;m\n" in log  # each line echoed, in green
    assert "hello 901\n" in log  # one shell: a variable set by one line reaches the next
    assert log.endswith("\x1b[32;1mJob succeeded\x1b[0;m\n")


def test_the_first_failing_command_ends_the_script(srv: TerminalSandbox) -> None:
    srv.wait_status(902, "failed")
    log = trace(srv, 902)
    assert "$ false" in log
    assert "never" not in log  # set -e
    assert log.endswith("\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m\n")
    srv.wait_status(903, "failed")
    assert trace(srv, 903).endswith("ERROR: Job failed: exit code 3\x1b[0;m\n")


def build_dir(log: str) -> str:
    """The build directory as git names it in the log (get_sources)."""
    found = re.search(
        r"(?:Initialized empty|Reinitialized existing) Git repository in (.+)/\.git/", log
    )
    assert found is not None, log
    return found.group(1)


def test_the_script_runs_in_the_build_directory_with_ci_variables(srv: TerminalSandbox) -> None:
    srv.wait_status(909, "success")
    log = trace(srv, 909)
    directory = build_dir(log)
    assert f"dir={directory}\n" in log
    assert f"pwd={directory}\n" in log
    assert re.search(r"/builds/t0000001/\d+/demo/webapp$", directory)  # the shell executor's


def test_a_terminal_attached_when_the_script_ends_holds_the_job(srv: TerminalSandbox) -> None:
    with open_terminal(srv.terminal_url(904), srv.cookie_for("demo")) as ws:
        assert run_command(ws, "echo $CI_JOB_ID") == ""  # the shell executor: the runner's env
        directory = build_dir(trace(srv, 904))
        run_command(ws, f"cd {directory} && touch go")
        wait_for(lambda: srv.job(904)["held_for_terminal"], "the job is not held")
        assert api(srv, "GET", "/jobs/904").json()["status"] == "running"
        assert "Terminal is connected, will time out in 30m0s..." in trace(srv, 904)
        assert run_command(ws, "cat done.txt") == "done"  # what the script left
    srv.wait_status(904, "failed")
    log = trace(srv, 904)
    connected = log.index("Terminal is connected")
    assert log.index("Terminal disconnected") > connected
    assert log.endswith("ERROR: Job failed: exit code 1\x1b[0;m\n")
    # jobterm's reader of logs understands the sandbox's the way it understands a runner's.
    from jobterm.core.joblog import JobFinished, JobLogReader

    reader = JobLogReader()
    reader.feed(log.encode())
    reader.finish()
    summary = reader.summary
    assert (summary.executor, summary.last_command) == ("shell", "false")
    assert (summary.script_ended, summary.terminal_held) == (True, "30m0s")
    assert summary.finished == JobFinished(False, 1, "exit code 1")


def test_the_docker_executor_drops_the_terminal_with_the_script(srv: TerminalSandbox) -> None:
    with open_terminal(srv.terminal_url(905), srv.cookie_for("demo")) as ws:
        run_command(ws, 'cd "$CI_PROJECT_DIR" && touch go')  # the container has the variables
        assert Reader(ws).until_closed().rcvd is None  # dropped, no Close frame
    assert srv.job(905)["status"] == "failed"
    log = trace(srv, 905)
    assert 'Preparing the "docker" executor' in log
    assert "Using Docker executor with image" in log
    assert "Terminal is connected" not in log


def test_canceling_kills_the_script(srv: TerminalSandbox) -> None:
    wait_for(lambda: "pid=" in trace(srv, 906), "the script did not start")
    found = re.search(r"pid=(\d+)", trace(srv, 906))
    assert found is not None
    pid = int(found.group(1))
    assert api(srv, "POST", "/jobs/906/cancel").status_code == 201
    wait_for(lambda: not _alive(pid), "the script's shell is still running")
    assert trace(srv, 906).endswith("ERROR: Job failed: canceled\x1b[0;m\n")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def test_a_timed_job_has_a_runner_log_too(srv: TerminalSandbox) -> None:
    log = trace(srv, 907)
    assert "Running with gitlab-runner" in log
    assert "$ ./timed.sh" in log
    srv.control("POST", "/jobs/907/end-script", {"status": "failed"})
    assert trace(srv, 907).endswith("ERROR: Job failed: exit code 1\x1b[0;m\n")


def test_retry_makes_a_new_job_that_runs_the_same_script(srv: TerminalSandbox) -> None:
    old = trace(srv, 908)  # finished before the sandbox started: a log is made up for it
    assert "$ echo hi > x" in old
    assert old.endswith("ERROR: Job failed: exit code 1\x1b[0;m\n")
    response = api(srv, "POST", "/jobs/908/retry")
    assert response.status_code == 201
    clone = response.json()
    assert clone["id"] > 908
    assert clone["status"] == "pending"
    assert clone["name"] == "red-once"
    assert clone["pipeline"]["id"] == api(srv, "GET", "/jobs/908").json()["pipeline"]["id"]
    srv.wait_status(clone["id"], "failed")
    log = trace(srv, clone["id"])
    assert "$ echo hi > x" in log
    # a shell runner keeps the build directory: git finds the repository of the last run
    assert "Reinitialized existing Git repository in " in log or "Initialized empty" in log
    assert re.search(r"/builds/t0000001/\d+/demo/webapp$", build_dir(log))
    rest = api(srv, "GET", f"/jobs/{clone['id']}").json()
    assert rest["status"] == "failed"
    assert rest["queued_duration"] >= 1.0  # pending until a runner picked it up


def test_retry_refuses_a_job_that_is_not_finished(srv: TerminalSandbox) -> None:
    response = api(srv, "POST", "/jobs/910/retry")
    assert response.status_code == 403
    assert response.json()["message"] == "403 Forbidden  - Job is not retryable"


def test_config_checks_scripts_and_executors() -> None:
    from jobterm.errors import ConfigError
    from jobterm.sandbox.config import build_state

    with pytest.raises(ConfigError, match="script must be a list of strings"):
        build_state({"jobs": [{"id": 101, "script": "make"}]})
    with pytest.raises(ConfigError, match="executor must be one of"):
        build_state({"runners": [{"id": 1, "executor": "podman"}]})
    assert build_state({"jobs": [{"id": 101, "script": ["make"]}]}).jobs[101].script == ["make"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1800, "30m0s"), (30, "30s"), (0, "0s"), (3600, "1h0m0s"), (90.4, "1m30s"), (3725, "1h2m5s")],
)
def test_durations_read_as_go_prints_them(seconds: float, text: str) -> None:
    from jobterm.sandbox.runnerlog import go_duration

    assert go_duration(seconds) == text


def test_the_shell_script_stops_at_the_first_failure(tmp_path: Path) -> None:
    import subprocess

    from jobterm.sandbox.runnerlog import shell_script

    for shell, bash in (("bash", True), ("dash", False)):
        script = shell_script(["echo one", "false | true", "exit 4", "echo two"], bash=bash)
        done = subprocess.run(
            [shell], input=script.encode(), capture_output=True, cwd=tmp_path, check=False
        )
        out = done.stdout.decode()
        assert "$ echo one" in out
        assert "one\n" in out
        assert "two" not in out
        assert done.returncode == (1 if bash else 4)  # pipefail: `false | true` fails in bash
    assert os.path.isdir(tmp_path)
