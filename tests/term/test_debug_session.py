"""`jobterm debug` end to end in a real terminal (pexpect) against the sandbox running real
scripts: retry, the live log, the held job's shell, the docker executor, --exec."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pyte

from util import scaled


def gate(path: Path) -> str:
    """A script line that waits until the test creates `path` (the script's "still running")."""
    return f"while [ ! -e {path} ]; do sleep 0.05; done"


def world(tmp_path: Path) -> dict[str, Any]:
    return {
        "runners": [{"id": 4, "description": "docker runner", "executor": "docker"}],
        "jobs": [
            {
                "id": 950,
                "name": "flaky",
                "status": "failed",
                "script": [
                    "echo step-one",
                    gate(tmp_path / "go-950"),
                    "echo evidence > left-behind.txt",
                    "cat expected.txt",
                ],
            },
            {
                "id": 951,
                "name": "in-docker",
                "status": "failed",
                "runner": 4,
                "script": ["echo docker-start", gate(tmp_path / "go-951"), "exit 3"],
            },
            {
                "id": 952,
                "name": "report",
                "status": "failed",
                "script": ["echo '<r/>' > r.xml", "sleep 1", "false"],
            },
            {"id": 953, "name": "green", "status": "success", "script": ["true"]},
            {
                "id": 949,
                "name": "in-docker-brief",
                "status": "failed",
                "runner": 4,
                "script": ["echo docker-start", "sleep 1", "exit 3"],
            },
        ],
    }


def retried_id(run: Any) -> int:
    run.child.expect(r"retried it as job (\d+)")
    return int(run.child.match.group(1))


def wait_status(sandbox: Any, job_id: int, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + scaled(15)
    while True:
        job = sandbox.admin("GET", f"/jobs/{job_id}")
        if job["status"] == status:
            return job  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"job {job_id} is {job['status']}, not {status}"
        time.sleep(0.05)


def ended_with(run: Any, code: int) -> None:
    """jobterm exited with `code` and left the user's terminal as it found it."""
    assert run.wait_done() == code
    assert run.terminal_restored()


def screen_of(run: Any, rows: int = 24, cols: int = 80) -> list[str]:
    """What the user's terminal shows now: everything jobterm wrote, through a terminal
    emulator."""
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(run.child.logfile_read.getvalue())
    return [line.rstrip() for line in screen.display]


def test_debug_retries_shows_the_log_live_and_gives_a_shell_in_the_held_job(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    run = spawn_jobterm(["debug", "950", "--project", "demo/webapp"], env)
    run.child.logfile_read = io.BytesIO()
    new = retried_id(run)
    assert new != 950
    run.child.expect("step-one")  # the script's line, while it still runs
    job = sandbox.admin("GET", f"/jobs/{new}")
    assert (job["status"], job["terminal_attached"], job["held_for_terminal"]) == (
        "running",
        True,
        False,
    )
    (tmp_path / "go-950").touch()
    run.child.expect("script ended after `cat expected.txt`: cat: expected.txt: No such file")
    run.child.expect("the job is held until you leave")
    run.child.expect(r"\[jobterm\] in .*/demo/webapp \(the build directory, from the job's log\)")
    time.sleep(0.3)
    run.child.send("cat left-behind.txt; echo id=$CI_JOB_ID\r")
    run.child.expect(f"id={new}")
    shown = screen_of(run)
    banner = [n for n, line in enumerate(shown) if "script ended after `cat expected.txt`" in line]
    assert banner, shown  # the banner, then the shell's own lines under it
    assert "evidence" in shown[banner[0] :], shown
    assert f"id={new}" in shown[banner[0] :], shown
    job = sandbox.admin("GET", f"/jobs/{new}")
    assert (job["status"], job["held_for_terminal"]) == ("running", True)
    run.child.send("exit\r")
    run.child.expect(f"job {new} 'flaky' finished: failed")
    ended_with(run, 1)
    assert sandbox.admin("GET", f"/jobs/{new}")["status"] == "failed"


def debug_in_docker(tmp_path: Path, spawn_jobterm: Any, make_sandbox: Any, signed_in: Any) -> Any:
    """`jobterm debug` of the docker-executor job (951) in a fresh sandbox: (run, retried id)."""
    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    run = spawn_jobterm(["debug", "951", "--project", "demo/webapp"], env)
    return run, retried_id(run)


def test_docker_executor_warns_offers_a_shell_now_and_says_why_it_ended(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    run, new = debug_in_docker(tmp_path, spawn_jobterm, make_sandbox, signed_in)
    run.child.expect("this job uses the docker executor: its shell ends with the script; press ~s")
    run.child.send("~s")
    run.child.expect("script is still running; this shell is beside it")
    time.sleep(0.3)
    run.child.send(f"echo in-$CI_JOB_ID; touch {tmp_path / 'go-951'}\r")
    run.child.expect(f"in-{new}")
    run.child.expect("shell ended with its script: with the docker executor")
    run.child.expect(f"job {new} 'in-docker' finished: failed")
    ended_with(run, 1)


def test_docker_executor_without_a_shell_ends_honestly(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    run, new = debug_in_docker(tmp_path, spawn_jobterm, make_sandbox, signed_in)
    run.child.expect("docker-start")
    (tmp_path / "go-951").touch()
    run.child.expect("ERROR: Job failed: exit code 3")  # the rest of the log first
    run.child.expect("shell ended with its script: with the docker executor")
    run.child.expect(f"job {new} 'in-docker' finished: failed")
    assert run.wait_done() == 1


def test_exec_runs_one_command_in_the_held_job(tmp_path, make_sandbox, signed_in):
    from fixtures_auth import jobterm

    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    done = jobterm(["debug", "952", "--project", "demo/webapp", "--exec", "cat r.xml; exit 7"], env)
    assert done.returncode == 7, done.stderr
    assert done.stdout == "<r/>\n"  # clean: the log went to stderr
    assert "$ echo '<r/>' > r.xml" in done.stderr
    new = int(re.search(r"retried it as job (\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    assert wait_status(sandbox, new, "failed")


def test_if_failed_and_no_retry(tmp_path, make_sandbox, signed_in):
    from fixtures_auth import jobterm

    sandbox = make_sandbox(world(tmp_path))
    env = signed_in(sandbox)
    done = jobterm(
        ["debug", "953", "--project", "demo/webapp", "--if-failed", "--exec", "true"], env
    )
    assert (done.returncode, done.stderr) == (
        0,
        "jobterm: job 953 is success, not failed; nothing to do\n",
    )
    done = jobterm(
        ["debug", "952", "--project", "demo/webapp", "--no-retry", "--exec", "true"], env
    )
    assert done.returncode == 5
    assert "already finished (failed) and --no-retry was given" in done.stderr


def test_shell_now_gives_the_shell_while_the_script_runs(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    run = spawn_jobterm(["debug", "950", "--project", "demo/webapp", "--shell-now"], env)
    new = retried_id(run)
    run.child.expect("script is still running; this shell is beside it")
    time.sleep(0.3)
    run.child.send(f"touch {tmp_path / 'go-950'}\r")
    deadline = time.monotonic() + scaled(15)
    while not sandbox.admin("GET", f"/jobs/{new}")["held_for_terminal"]:  # the script ended
        assert time.monotonic() < deadline, "the job was not held for the shell"
        time.sleep(0.05)
    run.child.send("cat left-behind.txt\r")
    run.child.expect("evidence")
    run.child.send("exit\r")
    run.child.expect(f"job {new} 'flaky' finished: failed")
    assert run.wait_done() == 1


def test_no_job_picks_among_recent_failed_jobs(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    run = spawn_jobterm(["debug", "--project", "demo/webapp"], env)
    run.child.expect("Debug which failed job in demo/webapp")
    run.child.expect("952")  # the newest failed job comes first
    run.child.send("\r")
    new = retried_id(run)
    run.child.expect("the job is held until you leave")
    time.sleep(0.3)
    run.child.send("exit\r")
    run.child.expect(f"job {new} 'report' finished: failed")
    ended_with(run, 1)


def test_a_job_gitlab_will_not_retry(tmp_path, make_sandbox, signed_in):
    from fixtures_auth import jobterm

    config = world(tmp_path)
    config["jobs"].append(
        {"id": 955, "project": 3, "name": "legacy", "status": "failed", "script": ["false"]}
    )
    sandbox = make_sandbox(config)
    done = jobterm(["debug", "955", "-p", "demo/legacy", "--exec", "true"], signed_in(sandbox))
    assert done.returncode == 5
    assert done.stderr.count("\n") == 1
    assert "job 955 of demo/legacy cannot be retried" in done.stderr


def test_exec_with_the_docker_executor_says_the_command_did_not_run(
    tmp_path, make_sandbox, signed_in
):
    from fixtures_auth import jobterm

    sandbox = make_sandbox(world(tmp_path))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    done = jobterm(["debug", "949", "-p", "demo/webapp", "--exec", "echo ran"], env)
    assert done.returncode == 255
    assert "ran" not in done.stdout
    assert "shell ended with its script: with the docker executor" in done.stderr
    assert "the command did not run" in done.stderr
