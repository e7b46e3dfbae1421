"""How an attached session ends when the job does: held notice, finish, server drop."""

from __future__ import annotations

import time

from util import scaled


def test_job_finishing_ends_the_session_with_its_status(spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox()
    env = signed_in(sandbox)
    run = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], env)
    run.child.expect("attached to job 101")
    run.type_line("echo up-$((1+1))", "up-2")
    sandbox.admin("POST", "/jobs/101/finish", status="failed")
    run.child.expect("job 101 'build' finished: failed", timeout=scaled(20))
    assert run.wait_done() == 13
    assert run.terminal_restored()


def test_script_end_holds_the_job_and_detaching_finishes_it(spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox()
    env = dict(signed_in(sandbox), JOBTERM_WATCH_INTERVAL="0.5")
    run = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], env)
    run.child.expect("attached to job 101")
    run.type_line("echo up-$((1+1))", "up-2")
    sandbox.admin("POST", "/jobs/101/end-script")
    run.child.expect("the job's script has ended; the job is held", timeout=scaled(20))
    run.child.send("\r~#")
    run.child.expect("held for this terminal: yes")
    run.type_line("exit", "the job waited for this terminal and is now finishing|finished: success")
    assert run.wait_done() in (0, 13)
    assert run.terminal_restored()
    deadline = time.monotonic() + scaled(10)
    while sandbox.admin("GET", "/jobs/101")["status"] != "success":  # detaching finishes it
        assert time.monotonic() < deadline, "the held job did not finish after detaching"
        time.sleep(0.1)
