"""`jobterm debug`'s races, each against the real sandbox in a real terminal: one line that
says what happened, its own exit code, the terminal restored."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from test_debug_session import ended_with, gate, retried_id, wait_status

from util import scaled


def world(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    return {
        "settings": settings,
        "runners": [{"id": 5, "description": "no session server", "session_server": False}],
        "jobs": [
            {
                "id": 960,
                "name": "quick",
                "status": "failed",
                "script": ["echo quick-line", "false"],
            },
            {
                "id": 961,
                "name": "slow",
                "status": "failed",
                "script": ["echo step-one", gate(tmp_path / "go"), "false"],
            },
            {
                "id": 962,
                "name": "nowhere",
                "status": "failed",
                "runner": 5,
                "script": ["echo step-one", gate(tmp_path / "go"), "false"],
            },
        ],
    }


def debug(spawn_jobterm: Any, env: dict[str, str], job: int, *extra: str) -> Any:
    env = dict(env, JOBTERM_LOG_INTERVAL="0.2", JOBTERM_SESSION_WAIT="1")
    return spawn_jobterm(["debug", str(job), "--project", "demo/webapp", *extra], env)


def debug_slow(tmp_path: Path, spawn_jobterm: Any, make_sandbox: Any, signed_in: Any) -> Any:
    """`jobterm debug` of the slow job (961) in a fresh sandbox: (sandbox, run, retried id)."""
    sandbox = make_sandbox(world(tmp_path))
    run = debug(spawn_jobterm, signed_in(sandbox), 961)
    return sandbox, run, retried_id(run)


def test_the_script_ends_before_a_terminal_could_attach(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox = make_sandbox(world(tmp_path, prepare_seconds=0))
    # The terminal cannot open (Workhorse answers 500): the quick script is sure to end first.
    sandbox.admin("PUT", "/terminal/faults", runner_unreachable=True)
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2", JOBTERM_SESSION_WAIT="60")
    run = spawn_jobterm(["debug", "960", "--project", "demo/webapp"], env)
    new = retried_id(run)
    run.child.expect("quick-line")  # the log is shown before the message that points at it
    run.child.expect(
        f"job {new} finished \\(failed\\) \\d+ s after it started, before a terminal could attach"
    )
    run.child.expect("GitLab holds a job only for a terminal attached before its script ends")
    ended_with(run, 20)


def test_a_runner_without_a_session_server(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox(world(tmp_path))
    run = debug(spawn_jobterm, signed_in(sandbox), 962)
    new = retried_id(run)
    run.child.expect(f"job {new} is running but its terminal did not open within 1 s")
    run.child.expect(r"\[session_server\]")
    ended_with(run, 6)
    (tmp_path / "go").touch()


def test_another_terminal_holds_the_job(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox(world(tmp_path))
    sandbox.admin("PUT", "/terminal/faults", runner_unreachable=True)  # Workhorse's 500
    run = debug(spawn_jobterm, signed_in(sandbox), 961)
    new = retried_id(run)
    run.child.expect(f"another terminal is attached to job {new}")
    ended_with(run, 7)
    (tmp_path / "go").touch()


def test_the_session_expires_while_waiting(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    sandbox, run, new = debug_slow(tmp_path, spawn_jobterm, make_sandbox, signed_in)
    run.child.expect("step-one")
    wait_attached(sandbox, new)
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=True)
    run.child.expect("jobterm login")
    ended_with(run, 3)
    (tmp_path / "go").touch()


def wait_attached(sandbox: Any, job_id: int) -> None:
    deadline = time.monotonic() + scaled(10)
    while not sandbox.admin("GET", f"/jobs/{job_id}")["terminal_attached"]:
        assert time.monotonic() < deadline, "jobterm did not attach"
        time.sleep(0.05)


def test_the_log_endpoint_failing_does_not_stop_it(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox, run, new = debug_slow(tmp_path, spawn_jobterm, make_sandbox, signed_in)
    run.child.expect("step-one")
    sandbox.admin(
        "POST",
        "/faults",
        kind="server_error",
        path=f"/api/v4/projects/demo/webapp/jobs/{new}/trace",
    )
    run.child.expect("the job's log is unavailable")
    run.child.expect("still waiting; ~s opens the shell now")
    sandbox.admin("DELETE", "/faults")
    (tmp_path / "go").touch()
    run.child.expect("the job is held until you leave")
    time.sleep(0.3)
    run.child.send("exit\r")
    run.child.expect(f"job {new} 'slow' finished: failed")
    assert run.wait_done() == 1


def ctrl_c(run: Any) -> None:
    """Ctrl-C as the user's shell delivers it: jobterm's process group alone gets SIGINT
    (the test's wrapper shell must not)."""
    os.kill(run.jobterm_pid(), signal.SIGINT)


def test_ctrl_c_while_the_log_shows_leaves_the_job_running(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox, run, new = debug_slow(tmp_path, spawn_jobterm, make_sandbox, signed_in)
    run.child.expect("step-one")
    ctrl_c(run)
    run.child.expect(f"left job {new}; it runs on without a terminal and finishes by itself")
    ended_with(run, 130)
    assert sandbox.admin("GET", f"/jobs/{new}")["status"] == "running"
    (tmp_path / "go").touch()
    wait_status(sandbox, new, "failed")  # not held: nobody's terminal is attached


def test_tilde_dot_while_the_log_shows(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    _, run, new = debug_slow(tmp_path, spawn_jobterm, make_sandbox, signed_in)
    run.child.expect("step-one")
    run.child.send("ls\r")  # typed before the shell is there
    run.child.expect("the shell is not yours yet: ~s gives it now")
    run.child.send("~?")
    run.child.expect("a shell in the job now, while its script runs")
    run.child.send("~.")
    run.child.expect(f"left job {new}")
    ended_with(run, 0)
    (tmp_path / "go").touch()


def test_ctrl_c_while_pending(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox(world(tmp_path, retry_pending_seconds=1000))
    env = signed_in(sandbox)
    run = debug(spawn_jobterm, env, 961)
    new = retried_id(run)
    run.child.expect(f"job {new} is pending \\(\\d+ s\\); waiting for a runner")
    ctrl_c(run)
    run.child.expect(f"left job {new} while it waited for a runner; it will run without a terminal")
    ended_with(run, 130)
    assert sandbox.admin("GET", f"/jobs/{new}")["status"] == "pending"
    run = debug(spawn_jobterm, env, new, "--cancel-on-interrupt")
    run.child.expect(f"job {new} is pending")
    ctrl_c(run)
    run.child.expect(f"cancelled job {new} before it started")
    assert run.wait_done() == 130
    wait_status(sandbox, new, "canceled")


def test_a_cancel_that_fails_is_said_as_it_is(tmp_path, spawn_jobterm, make_sandbox, signed_in):
    """GitLab answers the cancel with 503: the job runs on, and jobterm says so and how to
    cancel it, before it starts and while its log shows alike."""
    sandbox = make_sandbox(world(tmp_path, retry_pending_seconds=1000))
    env = signed_in(sandbox)
    refuse = {"kind": "server_error", "status": 503, "method": "POST", "times": 20}
    run = debug(spawn_jobterm, env, 961, "--cancel-on-interrupt")
    new = retried_id(run)
    run.child.expect(f"job {new} is pending")
    sandbox.admin("POST", "/faults", path="/api/v4/projects/", **refuse)  # POST: the cancel
    ctrl_c(run)
    run.child.expect(f"could not cancel job {new} \\(.*\\); it runs on without a terminal")
    run.child.expect("cancel it on its page: http")
    assert run.wait_done() == 130
    assert sandbox.admin("GET", f"/jobs/{new}")["status"] == "pending"
    sandbox.admin("POST", f"/jobs/{new}/start")
    run = debug(spawn_jobterm, env, new, "--cancel-on-interrupt")
    run.child.expect("step-one")
    ctrl_c(run)
    run.child.expect(f"could not cancel job {new}")
    assert run.wait_done() == 130
    assert sandbox.admin("GET", f"/jobs/{new}")["status"] == "running"


def test_a_terminal_that_answers_404_at_first_is_retried_quickly(
    tmp_path, spawn_jobterm, make_sandbox, signed_in
):
    sandbox = make_sandbox(world(tmp_path, terminal_ready_after=1.5))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2", JOBTERM_SESSION_WAIT="30")
    run = spawn_jobterm(["debug", "961", "--project", "demo/webapp"], env)
    new = retried_id(run)
    run.child.expect("step-one")
    wait_attached(sandbox, new)
    job = sandbox.admin("GET", f"/jobs/{new}")
    assert job["status"] == "running"
    (tmp_path / "go").touch()
    run.child.expect("the job is held until you leave")
    time.sleep(0.3)
    run.child.send("exit\r")
    assert run.wait_done() == 1
