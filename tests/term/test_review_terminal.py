"""Review findings on the terminal path (attach, exec), each driven as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from util import scaled


def test_exec_tty_sigterm_while_connecting_restores_the_terminal(spawn_jobterm, signed_in_env):
    # An attach holds job 101's only terminal, so `exec -t` keeps retrying the handshake
    # (busy) with the local terminal already raw; SIGTERM then must still restore it.
    holder = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], signed_in_env)
    holder.child.expect("attached to job 101", timeout=scaled(20))
    holder.type_line("echo held-$((1+1))", "held-2", timeout=scaled(20))
    run = spawn_jobterm(
        ["--debug", "exec", "101", "-p", "demo/webapp", "-t", "-c", "true"], signed_in_env
    )
    run.child.expect("terminal busy; retrying", timeout=scaled(20))
    os.kill(run.jobterm_pid(), signal.SIGTERM)
    run.wait_done()
    assert run.terminal_restored()
    holder.leave()


def test_output_held_by_the_hidden_setup_is_shown_when_the_session_ends(
    spawn_jobterm, make_sandbox, signed_in
):
    # A job's terminal that prints and exits before the set-up marker can come: what it
    # printed is held back by the set-up filter and must still reach the screen.
    job = {
        "id": 120,
        "project": "demo/webapp",
        "name": "brief",
        "user": "demo",
        "status": "running",
        "script_seconds": None,
        "shell": ["sh", "-c", "echo bye-from-the-$((6*7)); sleep 0.5"],
    }
    sandbox = make_sandbox({"jobs": [job]})
    run = spawn_jobterm(["attach", "120", "--project", "demo/webapp"], signed_in(sandbox))
    run.child.expect("attached to job 120", timeout=scaled(20))
    run.child.expect("bye-from-the-42|JOBTERM-RC", timeout=scaled(20))
    assert run.child.after == b"bye-from-the-42"
    run.wait_done()
    assert run.terminal_restored()


@pytest.mark.parametrize("where", ["missing/session.cast", "."])
def test_record_into_a_missing_directory_is_one_clear_line(
    spawn_jobterm, signed_in_env, tmp_path, sandbox, where
):
    """Said before connecting: no terminal is opened for a session that cannot be kept."""
    cast = tmp_path / where
    sandbox.admin("DELETE", "/requests")
    run = spawn_jobterm(
        ["attach", "101", "--project", "demo/webapp", "--record", str(cast)], signed_in_env
    )
    run.child.expect(r"jobterm: (.*)\r\n", timeout=scaled(20))
    lines = run.child.match.group(1).decode() + run.child.read().decode()
    assert "internal error" not in lines
    assert str(cast) in lines
    assert "JOBTERM-RC=2" in lines  # a --record path it cannot use
    assert run.terminal_restored()
    assert not [r for r in sandbox.admin("GET", "/requests")["requests"] if r["websocket"]]


def test_debug_log_does_not_show_what_is_typed(spawn_jobterm, signed_in_env):
    # A password typed at a no-echo prompt in the job must not appear in the --debug log
    # (which shares this terminal here); frame sizes may.
    run = spawn_jobterm(["--debug", "attach", "101", "--project", "demo/webapp"], signed_in_env)
    run.child.expect("attached to job 101", timeout=scaled(20))
    run.child.send(
        "stty -echo; echo no-echo-$((1+1)); read -r pw; stty echo; echo read-${#pw}-chars\r"
    )
    run.child.expect("no-echo-2", timeout=scaled(20))
    run.type_line("hunter2-typed", "read-13-chars", timeout=scaled(20))
    seen = run.child.before
    run.leave()
    assert b"hunter2" not in seen


def test_sigterm_at_the_picker_restores_the_terminal(spawn_jobterm, signed_in_env):
    env = dict(signed_in_env, PROMPT_TOOLKIT_NO_CPR="1")
    run = spawn_jobterm(["attach", "--project", "demo/webapp"], env)
    run.child.expect(rb"\d+\. 101  build", timeout=scaled(20))
    os.kill(run.jobterm_pid(), signal.SIGTERM)
    assert run.wait_done() == 143
    assert run.terminal_restored()


def test_sigterm_while_waiting_shows_the_cursor_again(spawn_jobterm, signed_in_env):
    # Job 104 is pending: --wait shows a spinner, which hides the cursor.
    run = spawn_jobterm(["attach", "104", "--project", "demo/webapp", "--wait"], signed_in_env)
    run.child.expect("waiting", timeout=scaled(20))
    os.kill(run.jobterm_pid(), signal.SIGTERM)
    run.child.expect("JOBTERM-RC", timeout=scaled(20))
    assert run.child.before.rfind(b"\x1b[?25h") > run.child.before.rfind(b"\x1b[?25l")
    run.child.expect(pexpect.EOF)


def test_recording_redacts_a_secret_split_across_frames_of_a_long_line(tmp_path):
    from jobterm.term.record import MAX_PENDING, Recorder

    secrets = {"glpat-ABCDEFGHIJKLMNOPQRST12": "ABCDEFGH", "password=hunter2-xyz": "hunter2"}
    for secret, telltale in secrets.items():
        line = ("x" * MAX_PENDING + " " + secret + " tail").encode()
        for cut in range(MAX_PENDING - 3, MAX_PENDING + len(secret) + 3):
            cast = tmp_path / f"s{cut}.cast"
            rec = Recorder(cast, 24, 80, record_input=False, env={})
            rec.output(line[:cut])  # a frame ends inside the secret, on a long line
            rec.output(line[cut:])
            rec.close()
            text = "".join(json.loads(e)[2] for e in cast.read_text().splitlines()[1:])
            assert telltale not in text, cut
            assert text.endswith(" tail")
            assert text.count("x") == MAX_PENDING


def test_escape_char_option_changes_or_disables_the_escapes(spawn_jobterm, signed_in_env):
    run = spawn_jobterm(["attach", "101", "-p", "demo/webapp", "-e", "^]"], signed_in_env)
    run.child.expect(
        r"leave with \^\]\. at the start of a line; \^\]\? for help", timeout=scaled(20)
    )
    run.type_line("echo up-$((2+3))", "up-5", timeout=scaled(20))
    run.child.send("~.")  # no longer an escape: typed into the job's shell
    run.child.send("\x15echo still-$((3+4))\r")  # Ctrl-U drops the "~." from the line
    run.child.expect("still-7", timeout=scaled(20))
    run.child.send("\r\x1d?")
    run.child.expect(r"\^\]\.   disconnect", timeout=scaled(20))
    run.child.send("\r\x1d.")
    assert run.wait_done() == 0
    assert run.terminal_restored()

    run = spawn_jobterm(["attach", "101", "-p", "demo/webapp", "-e", "none"], signed_in_env)
    run.child.expect("leave with exit", timeout=scaled(20))
    run.type_line("echo up-$((2+3))", "up-5", timeout=scaled(20))
    run.type_line("\r~.\x15echo still-$((3+4))", "still-7", timeout=scaled(20))
    run.type_line("exit", "still running", timeout=scaled(20))
    assert run.wait_done() == 0
    assert run.terminal_restored()


def test_exec_into_a_closed_pipe_exits_255_with_one_line(signed_in_env):
    # `jobterm exec … | head -c 5`: the reader goes away; exec's rule for its own failures.
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobterm",
            "exec",
            "102",
            "-p",
            "demo/webapp",
            "-c",
            "seq 1 3000000",
        ],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=signed_in_env,
    )
    os.close(write_end)
    assert os.read(read_end, 5)
    os.close(read_end)
    _, stderr = proc.communicate(timeout=scaled(60))
    assert proc.returncode == 255
    assert stderr.decode().count("\n") == 1, stderr
    assert "output" in stderr.decode()


def test_a_terminal_that_ends_at_once_is_an_ordinary_end(spawn_jobterm, make_sandbox, signed_in):
    # The drop may arrive while jobterm types the set-up line (more often under load): that
    # must be the ordinary end of a session, not an internal error.
    job = {
        "id": 121,
        "project": "demo/webapp",
        "name": "gone",
        "user": "demo",
        "status": "running",
        "script_seconds": None,
        "shell": ["true"],
    }
    sandbox = make_sandbox({"jobs": [job]})
    env = signed_in(sandbox)
    for _ in range(3):
        run = spawn_jobterm(["attach", "121", "--project", "demo/webapp"], env)
        run.child.expect("the terminal session ended; job 121 'gone' is still running")
        assert run.wait_done() == 0
        assert run.terminal_restored()


def test_a_superscript_digit_is_not_a_job_id():
    # str.isdigit() is true for "¹", which int() refuses: that was an internal error.
    from jobterm.core.jobs import parse_job_ref
    from jobterm.errors import UsageError

    with pytest.raises(UsageError, match="neither a job id nor a job URL"):
        parse_job_ref("¹")


def test_sigterm_during_the_hidden_setup_restores_and_exits_143(
    spawn_jobterm, make_sandbox, signed_in
):
    job = {
        "id": 122,
        "project": "demo/webapp",
        "name": "slow",
        "user": "demo",
        "status": "running",
        "script_seconds": None,
        "shell": ["sh", "-c", "echo slow-$((5*5)); sleep 30; exec sh -i"],
    }
    sandbox = make_sandbox({"jobs": [job]})
    run = spawn_jobterm(["attach", "122", "--project", "demo/webapp"], signed_in(sandbox))
    run.child.expect("attached to job 122", timeout=scaled(20))
    time.sleep(0.5)  # the set-up line is typed, its marker cannot come for 30 s
    os.kill(run.jobterm_pid(), signal.SIGTERM)
    run.child.expect("slow-25", timeout=scaled(10))  # held output is shown, not dropped
    run.child.expect("SIGTERM received")
    assert run.wait_done() == 143
    assert run.terminal_restored()
