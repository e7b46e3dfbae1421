"""`jobterm watch` end to end in a real terminal (pexpect, the screen rendered by pyte)
against the sandbox: a push makes a pipeline of 4 jobs in 2 stages, one fails; every job is
armed, the successful ones released at once, the failed one held and its shell handed over."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

from term.test_debug_session import ended_with, screen_of
from util import scaled

WORLD = {"settings": {"prepare_seconds": 0.2, "retry_pending_seconds": 0.3}}
PIPELINE = {
    "project": "demo/webapp",
    "ref": "main",
    "stages": ["build", "test"],
    "jobs": [
        {"name": "compile", "stage": "build", "script": ["sleep 1"], "artifacts": True},
        {"name": "lint", "stage": "build", "script": ["sleep 1"], "artifacts": True},
        {"name": "unit", "stage": "test", "script": ["sleep 1"], "artifacts": True},
        {
            "name": "e2e",
            "stage": "test",
            "script": [
                "mkdir -p reports",
                "echo '<testsuite failures=\"1\"/>' > reports/e2e.xml",
                "sleep 1",
                "false",
                "echo never",
            ],
        },
    ],
}
JOBTERM = [sys.executable, "-m", "jobterm"]
ENV = {"JOBTERM_WATCH_POLL": "0.2", "JOBTERM_LOG_INTERVAL": "0.1"}


def statuses_seen(stream: str, name: str) -> list[str]:
    """The statuses a job's row showed, in order, from everything drawn."""
    seen: list[str] = []
    for found in re.finditer(rf"\d+  \S+\s+{re.escape(name)}\s+(\w+)", stream):
        if not seen or seen[-1] != found.group(1):
            seen.append(found.group(1))
    return seen


def hold_added(sandbox: Any, job_id: int) -> float:
    """Seconds from the script's end to the job's end, by the sandbox's own clock."""
    job = sandbox.admin("GET", f"/jobs/{job_id}")
    finished = datetime.fromisoformat(job["rest"]["finished_at"].replace("Z", "+00:00"))
    return float(finished.timestamp() - job["life"]["script_ended_at"])


def test_watch_holds_the_failing_job_and_hands_its_shell_over(
    spawn_jobterm, make_sandbox, signed_in
):
    sandbox = make_sandbox(WORLD)
    env = dict(signed_in(sandbox), **ENV)
    run = spawn_jobterm(["watch", "-p", "demo/webapp", "--ref", "main", "--wait"], env, 40, 140)
    run.child.logfile_read = io.BytesIO()
    run.child.expect("waiting for a new pipeline")
    made = sandbox.admin("POST", "/pipelines", **PIPELINE)
    ids = dict(zip(["compile", "lint", "unit", "e2e"], made["jobs"], strict=True))
    run.child.expect(f"job {ids['e2e']} 'e2e' failed: the script stopped before its last line")
    run.child.expect(r"\[jobterm\] in \S+/demo/webapp \(the build directory, from the job's log\)")
    time.sleep(0.3)
    run.child.send("cat reports/e2e.xml; echo id=$CI_JOB_ID\r")
    run.child.expect(f"id={ids['e2e']}")
    shown = "\n".join(screen_of(run, 40, 140))
    assert '<testsuite failures="1"/>' in shown
    job = sandbox.admin("GET", f"/jobs/{ids['e2e']}")
    assert (job["status"], job["held_for_terminal"]) == ("running", True)
    run.child.send("exit\r")
    ended_with(run, 1)
    assert sandbox.admin("GET", f"/jobs/{ids['e2e']}")["status"] == "failed"
    stream = run.child.logfile_read.getvalue().decode(errors="replace")
    for name in ("compile", "lint", "unit"):
        assert hold_added(sandbox, ids[name]) < 0.5, name  # released as soon as it was told
        seen = statuses_seen(stream, name)
        assert seen[-1] == "success", (name, seen)
        assert "running" in seen, (name, seen)
    assert statuses_seen(stream, "unit")[0] == "created"  # its stage had not begun
    assert "released at once (succeeded: the runner uploaded artifacts" in stream
    # every state of the failed job's row, in order, as the table drew them
    rows = re.split(r"[\r\n]+", stream)
    e2e = [row for row in rows if re.search(r"\d+  test\s+e2e\s", row)]
    notes = ["created", "armed", "held: failed"]
    at = [next((n for n, row in enumerate(e2e) if note in row), -1) for note in notes]
    assert -1 not in at, e2e
    assert at == sorted(at), e2e


def test_watch_piped_writes_one_line_a_change_and_exec_collects_from_the_failure(
    make_sandbox, signed_in
):
    sandbox = make_sandbox(WORLD)
    env = dict(signed_in(sandbox), **ENV)
    made = sandbox.admin("POST", "/pipelines", **PIPELINE)
    done = subprocess.run(
        [*JOBTERM, "watch", str(made["id"]), "-p", "demo/webapp", "--exec", "cat reports/e2e.xml"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=scaled(90),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    e2e = made["jobs"][3]
    assert f'[{e2e}] <testsuite failures="1"/>\n' in done.stdout
    lines = [line for line in done.stdout.splitlines() if " e2e " in line]
    assert len(lines) == len(set(lines)), lines  # a line only when the row changed
    assert "\x1b[" not in done.stdout  # no redrawing where it is not a terminal
    assert sandbox.admin("GET", f"/jobs/{e2e}")["status"] == "failed"


def test_ctrl_c_releases_every_held_job(spawn_jobterm, make_sandbox, signed_in):
    sandbox = make_sandbox(WORLD)
    env = dict(signed_in(sandbox), **ENV)
    made = sandbox.admin(
        "POST",
        "/pipelines",
        project="demo/webapp",
        jobs=[{"name": "slow", "script": ["sleep 600"]}],
    )
    job_id = made["jobs"][0]
    run = spawn_jobterm(["watch", str(made["id"]), "-p", "demo/webapp"], env, 30, 120)
    run.child.expect("armed")
    assert sandbox.admin("GET", f"/jobs/{job_id}")["terminal_attached"] is True
    os.kill(run.jobterm_pid(), signal.SIGINT)  # Ctrl-C (sendintr would end the wrapper too)
    run.child.expect("released every held job")
    ended_with(run, 130)
    deadline = time.monotonic() + scaled(10)
    while sandbox.admin("GET", f"/jobs/{job_id}")["terminal_attached"]:
        assert time.monotonic() < deadline, "the job's terminal is still attached"
        time.sleep(0.05)


def test_a_shell_in_one_failure_does_not_hold_up_the_others(spawn_jobterm, make_sandbox, signed_in):
    """While the user is in a failed job's shell, a job that succeeds meanwhile is still
    released at once, and the table comes back with the news after the shell."""
    sandbox = make_sandbox(WORLD)
    env = dict(signed_in(sandbox), **ENV)
    pipeline = {
        "project": "demo/webapp",
        "jobs": [
            {"name": "bad", "script": ["sleep 0.5", "false", "true"]},
            {"name": "slow-ok", "script": ["sleep 4"], "artifacts": True},
        ],
    }
    made = sandbox.admin("POST", "/pipelines", **pipeline)
    bad, ok = made["jobs"]
    run = spawn_jobterm(["watch", str(made["id"]), "-p", "demo/webapp"], env, 40, 140)
    run.child.expect(r"\[jobterm\] in ")
    deadline = time.monotonic() + scaled(20)
    while sandbox.admin("GET", f"/jobs/{ok}")["status"] != "success":  # we stay in the shell
        assert time.monotonic() < deadline, "the successful job was never released"
        time.sleep(0.1)
    assert hold_added(sandbox, ok) < 0.5
    run.child.send("exit\r")
    ended_with(run, 1)
    assert sandbox.admin("GET", f"/jobs/{bad}")["status"] == "failed"


def test_no_shell_says_which_job_failed_and_ends(make_sandbox, signed_in):
    sandbox = make_sandbox(WORLD)
    env = dict(signed_in(sandbox), **ENV)
    made = sandbox.admin(
        "POST",
        "/pipelines",
        project="demo/webapp",
        jobs=[{"name": "bad", "script": ["sleep 0.5", "false", "true"]}],
    )
    done = subprocess.run(
        [*JOBTERM, "watch", str(made["id"]), "-p", "demo/webapp", "--no-shell"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f"job {made['jobs'][0]} 'bad' failed" in done.stdout
    assert sandbox.admin("GET", f"/jobs/{made['jobs'][0]}")["status"] == "failed"
