"""What `jobterm attach` says, and with which exit code, when a terminal can't be opened."""

from __future__ import annotations

import subprocess
import sys

import pytest

from term.test_refusals import REFUSALS
from util import scaled


@pytest.mark.parametrize(("job", "project", "message", "code"), REFUSALS)
def test_pre_checks_say_what_is_wrong(spawn_jobterm, signed_in_env, job, project, message, code):
    run = spawn_jobterm(["attach", job, "--project", project], signed_in_env)
    run.child.expect_exact(message)
    assert run.wait_done() == code
    assert b"Traceback" not in (run.child.before or b"")
    assert run.terminal_restored()


def test_job_url_gives_host_and_project(spawn_jobterm, signed_in_env, sandbox):
    run = spawn_jobterm(["attach", f"{sandbox.url}/demo/webapp/-/jobs/104"], signed_in_env)
    run.child.expect("is not running yet")
    assert run.wait_done() == 5


def test_not_signed_in_says_how_to_sign_in(spawn_jobterm, sandbox, auth_env):
    run = spawn_jobterm(["attach", f"{sandbox.url}/demo/webapp/-/jobs/101"], auth_env)
    run.child.expect("jobterm login")
    assert run.wait_done() == 3


def test_no_job_and_no_terminal_is_a_usage_error(signed_in_env):
    result = subprocess.run(
        [sys.executable, "-m", "jobterm", "attach", "--project", "demo/webapp"],
        env=signed_in_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_job_on_a_terminal_offers_a_picker(spawn_jobterm, signed_in_env):
    # A real terminal answers prompt_toolkit's cursor-position request; pexpect does not.
    env = dict(signed_in_env, PROMPT_TOOLKIT_NO_CPR="1")
    run = spawn_jobterm(["attach", "--project", "demo/webapp"], env)
    run.child.expect("Attach to which job")
    run.child.expect(rb"(\d+)\. 101  build  \[build\]")
    number = run.child.match.group(1).decode()
    shown = run.child.before
    assert b"103  deploy" not in shown  # bob's job is not offered
    run.child.send(number + "\r")
    run.child.expect("attached to job 101")
    run.type_line("echo picked-$((3*3))", "picked-9")
    run.leave()


def test_wait_attaches_once_a_pending_job_runs(spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox({"jobs": [{"id": 104, "status": "pending", "pending_seconds": 2}]})
    env = signed_in(sandbox)
    run = spawn_jobterm(["attach", "104", "--project", "demo/webapp", "--wait"], env)
    run.child.expect("attached to job 104", timeout=scaled(30))
    run.type_line("echo waited-$((2+2))", "waited-4")
    run.leave()


def test_wait_timeout_gives_up_with_its_own_code(spawn_jobterm, signed_in_env):
    run = spawn_jobterm(
        ["attach", "104", "--project", "demo/webapp", "--wait", "--wait-timeout", "1"],
        signed_in_env,
    )
    run.child.expect("still pending")
    assert run.wait_done() == 12


def test_numeric_project_id(spawn_jobterm, signed_in_env):
    run = spawn_jobterm(["attach", "104", "--project", "1"], signed_in_env)
    run.child.expect_exact("job 104 'lint' is not running yet (pending)")
    assert run.wait_done() == 5


def test_project_from_the_git_remote_of_the_current_directory(
    spawn_jobterm, signed_in_env, sandbox, tmp_path
):
    repo = tmp_path / "checkout"
    repo.mkdir()
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "remote", "add", "origin", f"{sandbox.url}/demo/webapp.git"], check=True)
    run = spawn_jobterm(["attach", "104"], signed_in_env, cwd=repo)
    run.child.expect_exact("job 104 'lint' is not running yet (pending)")
    assert run.wait_done() == 5


def test_no_project_and_no_remote_says_what_to_pass(spawn_jobterm, signed_in_env, tmp_path):
    run = spawn_jobterm(["attach", "104"], signed_in_env, cwd=tmp_path)
    run.child.expect("pass --project")
    assert run.wait_done() == 2
