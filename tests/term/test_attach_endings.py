"""Every way an attached session ends maps to its own closing line and exit code.

The class: after the connection drops, jobterm asks the REST API what became of the job, and
the answer (running, finished, an error, no answer at all) decides the line and the code; a
detach (`~.`) is the user's choice and exits 0 whatever the answer. The table below is the
contract (README "When it ends"); one test per row drives it in a real PTY.
"""

from __future__ import annotations

import io
import signal

import pytest

from util import scaled

WAIT = 20

# path: (how the session ends, what the REST API does, closing line, exit code)
ENDINGS = {
    "drop, job running": ("exit", None, r"session ended; job 101 'build' is still running", 0),
    "drop, job finished": ("finish", None, r"job 101 'build' finished: failed", 13),
    "drop, API erroring": ("exit", "error", r"dropped and \S+ answered the status check with", 9),
    "drop, API unreachable": ("stop", None, r"dropped and \S+ did not answer", 10),
    "detach, job running": ("detach", None, r"detached from job 101 'build', which is still", 0),
    # The job's name is learned beside the session; with the API failing early it is unknown.
    "detach, API erroring": (
        "detach",
        "error",
        r"detached from job 101( 'build')?; its status is",
        0,
    ),
}


def test_the_table_gives_each_ending_its_own_line_and_each_drop_its_own_code() -> None:
    lines = [line for _, _, line, _ in ENDINGS.values()]
    assert len(set(lines)) == len(lines)
    drops = [code for name, (_, _, _, code) in ENDINGS.items() if name.startswith("drop")]
    assert len(set(drops)) == len(drops)


@pytest.mark.parametrize("path", list(ENDINGS))
def test_each_ending_says_what_happened_with_its_code(spawn_jobterm, make_sandbox, signed_in, path):
    how, api, line, code = ENDINGS[path]
    sandbox = make_sandbox()
    run = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], signed_in(sandbox))
    run.child.logfile_read = io.BytesIO()
    run.child.expect("attached to job 101", timeout=scaled(WAIT))
    run.child.send("echo up-$((1+1))\r")
    run.child.expect("up-2", timeout=scaled(WAIT))
    if api == "error":
        sandbox.admin("POST", "/faults", kind="server_error", status=500)
    if how == "exit":
        run.child.send("exit\r")
    elif how == "finish":
        sandbox.admin("POST", "/jobs/101/finish", status="failed")
    elif how == "stop":
        sandbox.proc.send_signal(signal.SIGTERM)  # the instance goes away, shells and all
    else:
        run.child.send("\r~.")
    run.child.expect(line, timeout=scaled(WAIT))
    assert run.wait_done() == code
    assert run.terminal_restored()
    shown = run.child.logfile_read.getvalue()
    assert b"Traceback" not in shown
    closing = [ln for ln in shown.split(b"\n") if b"jobterm: " in ln and b"attached to" not in ln]
    assert len(closing) == 1, closing
    if how == "stop":
        assert sandbox.proc.wait(scaled(10)) == 0
