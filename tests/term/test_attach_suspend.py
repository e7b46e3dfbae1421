"""The local terminal around an attached session: suspended and resumed (Ctrl-Z / fg), and
jobterm's own lines while the terminal is raw."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import termios
import time
from pathlib import Path

import pytest

from util import scaled

WAIT = 20


def attach(spawn_jobterm, env, *before):
    run = spawn_jobterm([*before, "attach", "101", "--project", "demo/webapp"], env)
    run.child.logfile_read = io.BytesIO()
    run.child.expect("attached to job", timeout=scaled(WAIT))
    ready(run)
    return run


def ready(run) -> None:
    token = str(time.monotonic_ns())[-8:]
    run.child.send(f"echo ready-{token}-$((40+2))\r")
    run.child.expect(f"ready-{token}-42", timeout=scaled(WAIT))


def tty_settings(run) -> str:
    """`stty -g` of the terminal jobterm runs in, read from outside."""
    tty = os.readlink(f"/proc/{run.jobterm_pid()}/fd/0")
    return subprocess.run(
        ["stty", "-g", "-F", tty], capture_output=True, text=True, check=True
    ).stdout.strip()


def is_raw(run) -> bool:
    lflag = termios.tcgetattr(run.child.child_fd)[3]
    return not lflag & (termios.ICANON | termios.ECHO)


def wait_state(pid: int, letter: str) -> None:
    deadline = time.monotonic() + scaled(WAIT)
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != letter:
        assert time.monotonic() < deadline, f"jobterm did not reach state {letter}"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["escape", "sigtstp"])
def test_suspend_gives_the_terminal_back_and_fg_takes_it_raw_again(
    spawn_jobterm, signed_in_env, how
):
    run = attach(spawn_jobterm, signed_in_env)
    pid = run.jobterm_pid()
    assert is_raw(run)
    if how == "escape":
        run.child.send("\r~\x1a")  # ~^Z, as in ssh
    else:
        os.kill(pid, signal.SIGTSTP)
    wait_state(pid, "T")
    assert tty_settings(run) == run.stty_before()  # cooked again, exactly as it was
    os.kill(pid, signal.SIGCONT)  # what `fg` sends
    run.child.expect("resumed", timeout=scaled(WAIT))
    assert is_raw(run)
    ready(run)  # keys go to the job, one by one, not echoed locally
    run.child.send("\r~.")
    assert run.wait_done() == 0
    assert run.terminal_restored()


def test_a_stop_that_cannot_be_caught_is_repaired_on_resume(spawn_jobterm, signed_in_env):
    run = attach(spawn_jobterm, signed_in_env)
    pid = run.jobterm_pid()
    os.kill(pid, signal.SIGSTOP)
    wait_state(pid, "T")
    # The user's shell puts its own settings back while jobterm is stopped.
    tty = os.readlink(f"/proc/{pid}/fd/0")
    subprocess.run(["stty", "-F", tty, run.stty_before()], check=True)
    os.kill(pid, signal.SIGCONT)
    run.child.expect("resumed", timeout=scaled(WAIT))
    assert is_raw(run)
    ready(run)
    run.child.send("\r~.")
    assert run.wait_done() == 0


def test_debug_lines_in_raw_mode_end_in_crlf(spawn_jobterm, signed_in_env):
    # The class: any line jobterm itself writes while the terminal is raw. --debug logs
    # the REST calls of `~#`, written while raw; none may end in a bare LF (a staircase).
    run = attach(spawn_jobterm, signed_in_env, "--debug")
    start = len(run.child.logfile_read.getvalue())
    run.child.send("\r~#")
    run.child.expect("held for this terminal", timeout=scaled(WAIT))
    ready(run)
    run.child.send("\r~?")
    run.child.expect("disconnect")
    run.child.send("\r~.")
    assert run.wait_done() == 0
    text = run.child.logfile_read.getvalue()
    session = text[start : text.index(b"disconnecting")]
    assert b"jobterm: debug:" in session
    bare = [m.start() for m in re.finditer(rb"(?<!\r)\n", session)]
    assert not bare, [session[max(0, i - 80) : i + 1] for i in bare[:3]]
