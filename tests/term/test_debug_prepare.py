"""`jobterm debug` prepares the shell it hands over, and says what holds, for each executor
(core/prepare.py): checked on the screen of a real terminal, against the sandbox's model of
what each GitLab Runner executor gives a terminal (sandbox/executors.py)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from term.test_debug_session import ended_with, retried_id, screen_of
from util import scaled

RUNNERS = {"shell": 11, "docker": 12, "kubernetes": 13}
JOBS = {"shell": 961, "docker": 962, "kubernetes": 963}


def world(tmp_path: Path) -> dict[str, Any]:
    """One failed job per executor: its script leaves a report, waits for the test, fails."""
    return {
        "runners": [
            {"id": runner, "description": f"{name} runner", "executor": name}
            for name, runner in RUNNERS.items()
        ],
        "projects": [{"path": "demo/webapp", "variables": {"PROJECT_SECRET": "s3cr3t"}}],
        "jobs": [
            {
                "id": JOBS[name],
                "name": f"e2e-{name}",
                "status": "failed",
                "runner": runner,
                "script": [
                    "mkdir -p reports",
                    "echo '<testsuite failures=\"1\"/>' > reports/e2e.xml",
                    f"while [ ! -e {tmp_path / name} ]; do sleep 0.05; done",
                    "false",
                ],
            }
            for name, runner in RUNNERS.items()
        ],
    }


def text_of(run: Any) -> str:
    """The screen as one line of text: a line that wraps at the edge goes on where it was
    cut, the others are apart by a space."""
    rows = screen_of(run, rows=40, cols=100)
    return " ".join("".join(row.ljust(100) for row in rows).split())


def build_dir(sandbox: Any, job_id: int) -> str:
    """The build directory as the job's log names it (git's line in get_sources)."""
    response = httpx.get(
        f"{sandbox.url}/api/v4/projects/1/jobs/{job_id}/trace",
        headers={"PRIVATE-TOKEN": sandbox.user("demo")["token"]},
        timeout=scaled(10),
    )
    found = re.search(r"Git repository in (.+)/\.git/", response.text)
    assert found, response.text
    return found.group(1)


def start_debug(
    tmp_path: Path, spawn_jobterm: Any, make_sandbox: Any, signed_in: Any, *extra: str
) -> tuple[Any, Any, int]:
    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    name = extra[0]
    args = ["debug", str(JOBS[name]), "--project", "demo/webapp", *extra[1:]]
    run = spawn_jobterm(args, env, rows=40, cols=100)
    run.child.logfile_read = io.BytesIO()
    return sandbox, run, retried_id(run)


def look(run: Any, job_id: int) -> dict[str, str]:
    """Type what a user would, in the handed-over shell; what the screen then shows."""
    time.sleep(0.3)
    run.child.send("echo pwd=$(pwd) id=${CI_JOB_ID-none} secret=${PROJECT_SECRET-none}\r")
    run.child.expect(r"id=(\d+|none) secret=")
    run.child.send("ls reports && echo listed\r")
    run.child.expect("listed")
    time.sleep(0.2)
    shown = text_of(run)
    found = re.findall(r"pwd=(/\S*) id=(\d+|none) secret=(\S+)", shown)
    assert found, shown
    pwd, job, secret = found[-1]
    return {"pwd": pwd, "id": job, "secret": secret, "screen": shown}


@pytest.mark.parametrize("executor", ["shell", "kubernetes"])
def test_debug_prepares_the_held_jobs_shell(
    tmp_path, spawn_jobterm, make_sandbox, signed_in, executor
):
    sandbox, run, new = start_debug(tmp_path, spawn_jobterm, make_sandbox, signed_in, executor)
    run.child.expect("step_script|e2e.xml")
    (tmp_path / executor).touch()
    run.child.expect("the job is held until you leave")
    run.child.expect(r"\[jobterm\] in ")
    seen = look(run, new)
    directory = build_dir(sandbox, new)
    assert seen["pwd"] == directory  # moved to the build directory
    assert seen["id"] == str(new)  # the job's variables: the container's, or jobterm's
    assert "e2e.xml" in seen["screen"]
    if executor == "shell":  # none from the runner: 21 predefined ones from jobterm
        assert (
            f"[jobterm] in {directory} (the build directory, from the job's log)" in seen["screen"]
        )
        assert "none of the job's variables:" in seen["screen"]
        assert (
            "predefined ones are set, the project's own and masked ones are not" in seen["screen"]
        )
        assert seen["secret"] == "none"
    else:  # the pod's variables: public and internal ones, not the project's own
        assert (
            f"[jobterm] in {directory} ($CI_PROJECT_DIR); the shell has the job's variables as "
            "the kubernetes executor gives them: the predefined and the job's own, not the "
            "project's" in seen["screen"]
        )
        assert seen["secret"] == "none"
    run.child.send("exit\r")
    run.child.expect(f"job {new} 'e2e-{executor}' finished: failed")
    ended_with(run, 1)


def test_debug_prepares_a_docker_shell_while_the_script_runs(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    """The docker executor ends the terminal with the build container: the shell is taken
    while the script runs (~s), prepared the same way."""
    sandbox, run, new = start_debug(tmp_path, spawn_jobterm, make_sandbox, signed_in, "docker")
    run.child.expect("this job uses the docker executor")
    run.child.expect("e2e.xml")
    run.child.send("~s")
    run.child.expect(r"\[jobterm\] in ")
    seen = look(run, new)
    directory = build_dir(sandbox, new)
    assert seen["pwd"] == directory
    assert seen["id"] == str(new)
    assert seen["secret"] == "s3cr3t"  # the container has every variable of the job
    assert (
        "($CI_PROJECT_DIR); the shell has all the job's variables, as the docker" in seen["screen"]
    )
    (tmp_path / "docker").touch()
    run.child.expect("shell ended with its script: with the docker executor")
    ended_with(run, 1)


def test_no_prepare_leaves_the_shell_as_the_runner_gave_it(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox, run, new = start_debug(
        tmp_path, spawn_jobterm, make_sandbox, signed_in, "shell", "--no-prepare"
    )
    run.child.expect("e2e.xml")
    (tmp_path / "shell").touch()
    run.child.expect("the job is held until you leave")
    run.child.expect(r"\[jobterm\] in ")
    seen = look(run, new)
    assert seen["id"] == "none"
    assert seen["pwd"] != build_dir(sandbox, new)
    assert (
        "not the build directory; the runner gave this shell none of the job's" in (seen["screen"])
    )
    run.child.send("exit\r")
    ended_with(run, 1)


@pytest.mark.parametrize("executor", ["shell", "kubernetes"])
def test_debug_exec_runs_in_the_prepared_place(tmp_path, make_sandbox, signed_in, executor):
    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    (tmp_path / executor).touch()  # the script runs straight through
    command = "cat reports/e2e.xml; echo id=$CI_JOB_ID"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobterm",
            "debug",
            str(JOBS[executor]),
            "-p",
            "demo/webapp",
            "--exec",
            command,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    new = re.search(r"retried it as job (\d+)", done.stderr)
    assert new, done.stderr
    assert done.stdout == f'<testsuite failures="1"/>\nid={new.group(1)}\n', done.stderr
    assert done.returncode == 0, done.stderr
    assert "jobterm: in " in done.stderr  # on stderr, outside a session


def test_no_resize_still_prepares_the_shell_and_says_so(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    """Without the hidden set-up the preparation is typed in sight, and its line comes."""
    sandbox, run, new = start_debug(
        tmp_path, spawn_jobterm, make_sandbox, signed_in, "shell", "--no-resize"
    )
    run.child.expect("e2e.xml")
    (tmp_path / "shell").touch()
    run.child.expect("the job is held until you leave")
    run.child.expect(r"\[jobterm\] in \S+ \(the build directory, from the job's log\)")
    seen = look(run, new)
    assert seen["pwd"] == build_dir(sandbox, new)
    assert seen["id"] == str(new)
    run.child.send("exit\r")
    ended_with(run, 1)
