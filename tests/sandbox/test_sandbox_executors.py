"""Each executor's terminal gets what GitLab Runner's code gives it (sandbox/executors.py):
the script runs in the build directory with every variable; the terminal's shell does not."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox_ws import TerminalSandbox, open_terminal, run_command, serving
from util import scaled

EXECUTORS = {"shell": 11, "docker": 12, "kubernetes": 13}
# The script leaves what it saw where the terminal can compare it, then runs on.
SCRIPT = ["env > script-env", "pwd > script-pwd", "sleep 600"]


def _job(job_id: int, runner: int, **more: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "name": f"job-{job_id}",
        "project": "demo/webapp",
        "runner": runner,
        "script": SCRIPT,
        "variables": {"JOB_OWN": "yes"},
        **more,
    }


CONFIG: dict[str, Any] = {
    "settings": {"prepare_seconds": 0.2},
    "runners": [
        {"id": runner, "description": f"{name}-runner", "executor": name}
        for name, runner in EXECUTORS.items()
    ],
    "projects": [{"path": "demo/webapp", "variables": {"PROJECT_SECRET": "s3cr3t"}}],
    "jobs": [
        *(_job(900 + i, runner) for i, runner in enumerate(EXECUTORS.values())),
        _job(910, EXECUTORS["docker"], status="pending", pending_seconds=None),
        _job(920, EXECUTORS["shell"]),  # beside 900 on the same runner
    ],
}


@pytest.fixture
def demo(srv: TerminalSandbox) -> str:
    return srv.cookie_for("demo")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerminalSandbox]:
    with serving(CONFIG, workdir=tmp_path_factory.mktemp("executors")) as server:
        yield server


def _env(text: str) -> dict[str, str]:
    lines = text.replace("\r", "").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + scaled(10)
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def _log(srv: TerminalSandbox, job_id: int) -> str:
    response = httpx.get(
        f"{srv.url}/api/v4/projects/1/jobs/{job_id}/trace",
        headers={"PRIVATE-TOKEN": srv.token("demo")},
        timeout=scaled(10),
    )
    return response.text


def _build_dir(srv: TerminalSandbox, job_id: int) -> Path:
    """The build directory, as a client learns it: from git's line in the job's log."""
    found = re.search(r"Initialized empty Git repository in (.+)/\.git/", _log(srv, job_id))
    assert found, _log(srv, job_id)
    return Path(found.group(1))


def _terminal(srv: TerminalSandbox, cookie: str, job_id: int) -> tuple[dict[str, str], str]:
    with open_terminal(srv.terminal_url(job_id), cookie) as ws:
        return _env(run_command(ws, "env")), run_command(ws, "pwd")


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_the_script_runs_in_the_build_directory_with_every_variable(
    srv: TerminalSandbox, executor: str
) -> None:
    job_id = 900 + list(EXECUTORS).index(executor)
    build = _build_dir(srv, job_id)
    env = _env(_wait_for(build / "script-env"))
    assert _wait_for(build / "script-pwd").strip() == str(build)
    assert env["CI_PROJECT_DIR"] == str(build)
    assert env["CI_JOB_ID"] == str(job_id)
    assert env["JOB_OWN"] == "yes"
    assert env["PROJECT_SECRET"] == "s3cr3t"


def test_shell_executor_terminal_has_the_runners_directory_and_environment(
    srv: TerminalSandbox, demo: str
) -> None:
    build = _build_dir(srv, 900)
    _wait_for(build / "script-env")
    env, pwd = _terminal(srv, demo, 900)
    assert not [name for name in env if name.startswith(("CI", "GITLAB_"))], env
    assert "JOB_OWN" not in env
    assert "PROJECT_SECRET" not in env
    assert pwd == env["HOME"]  # the runner's working directory
    # <working directory>/builds/<runner short token>/<concurrent id>/<project path>
    assert build == Path(pwd, "builds", "t0000011", "0", "demo", "webapp")
    # a job running beside it on the same runner gets the next concurrent id
    assert _build_dir(srv, 920) == Path(pwd, "builds", "t0000011", "1", "demo", "webapp")


@pytest.mark.parametrize("executor", ["docker", "kubernetes"])
def test_container_terminal_has_the_containers_environment_not_the_build_dir(
    srv: TerminalSandbox, demo: str, executor: str
) -> None:
    job_id = 900 + list(EXECUTORS).index(executor)
    build = _build_dir(srv, job_id)
    _wait_for(build / "script-env")
    env, pwd = _terminal(srv, demo, job_id)
    assert env["CI_JOB_ID"] == str(job_id)
    assert env["CI_PROJECT_DIR"] == str(build)
    assert env["JOB_OWN"] == "yes"  # the job's own variables are public
    # docker: GetAllVariables(); kubernetes: PublicOrInternal(), no project variables
    assert ("PROJECT_SECRET" in env) is (executor == "docker")
    assert pwd != str(build)  # the image's WORKDIR, not the build directory
    assert build == Path(pwd, "builds", "demo", "webapp")


def test_docker_terminal_waits_for_the_build_container(srv: TerminalSandbox, demo: str) -> None:
    """Before the runner has prepared the job there is no container: the terminal waits."""
    srv.control("POST", "/jobs/910/start")
    started = time.monotonic()
    env, _ = _terminal(srv, demo, 910)
    assert env["CI_JOB_ID"] == "910"
    assert time.monotonic() - started >= 0.1  # it waited for prepare_seconds


def test_the_log_names_the_build_directory_as_git_does(srv: TerminalSandbox) -> None:
    log = _log(srv, 900)
    get_sources = log[log.index("section_start:") :]
    order = [
        "Getting source from Git repository",
        "Fetching changes with git depth set to",
        "Initialized empty Git repository in ",
        "Created fresh repository.",
        "as detached HEAD (ref is main)...",
        "Skipping Git submodules setup",
        'Executing "step_script" stage',
    ]
    positions = [get_sources.index(line) for line in order]
    assert positions == sorted(positions)


def test_a_retried_job_on_a_shell_runner_reuses_the_build_directory(
    srv: TerminalSandbox, demo: str
) -> None:
    first = _build_dir(srv, 900)
    _wait_for(first / "script-env")
    headers = {"PRIVATE-TOKEN": srv.token("demo")}
    base = f"{srv.url}/api/v4/projects/1/jobs"
    httpx.post(f"{base}/900/cancel", headers=headers, timeout=scaled(10)).raise_for_status()
    retried = httpx.post(f"{base}/900/retry", headers=headers, timeout=scaled(10)).json()
    deadline = time.monotonic() + scaled(10)
    while "Git repository in" not in (log := _log(srv, retried["id"])):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert f"Reinitialized existing Git repository in {first}/.git/" in log
