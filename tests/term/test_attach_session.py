"""`jobterm attach` driven in a real pseudo-terminal against the sandbox, as a user would."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import string
import time

import pytest

from util import scaled

PROMPT_WAIT = 20


def attach(spawn_jobterm, env, job="101", *extra, rows=24, cols=80, project="demo/webapp"):
    run = spawn_jobterm(["attach", job, "--project", project, *extra], env, rows=rows, cols=cols)
    run.child.expect("attached to job", timeout=scaled(PROMPT_WAIT))
    return run


def ready_session(spawn_jobterm, env, *args, **options):
    """`attach`, then `ready`: a session whose shell answers."""
    run = attach(spawn_jobterm, env, *args, **options)
    ready(run)
    return run


def ready(run) -> None:
    """Wait until the remote shell answers (the set-up line has been hidden by then)."""
    token = "".join(random.choices(string.ascii_lowercase, k=10))
    run.child.send(f"echo ready-{token}-$((40+2))\r")
    run.child.expect(f"ready-{token}-42", timeout=scaled(PROMPT_WAIT))


def test_type_a_command_read_its_output_and_leave_with_tilde_dot(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env, "101", "--prepare")
    run.type_line("echo $CI_JOB_ID-$CI_PROJECT_PATH", "101-demo/webapp")
    run.leave()


def test_setup_line_is_hidden_and_size_matches_local(spawn_jobterm, signed_in_env):
    env = dict(signed_in_env, TERM="xterm-256color")
    run = ready_session(spawn_jobterm, env, rows=33, cols=101)
    run.type_line("stty size; echo TERM=$TERM", r"33 101")
    run.child.expect("TERM=xterm-256color")
    seen = run.child.before.decode(errors="replace") if run.child.before else ""
    run.leave()
    assert "jobterm-ready" not in seen


def test_no_resize_leaves_the_remote_terminal_at_zero(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env, "101", "--no-resize")
    run.type_line("stty size", r"\r\n0 0\r\n")
    run.leave()


def test_help_status_and_literal_tilde(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env)
    run.child.send("\r~?")
    run.child.expect("disconnect")
    run.child.send("~#")
    run.child.expect("job 101 'build'")
    run.child.expect("held for this terminal: no")
    run.child.send('read v; echo "got[$v]"\r')
    time.sleep(0.3)
    run.child.send("~~abc\r")  # `~~` at the start of a line sends one `~`
    run.child.expect(r"got\[~abc\]")
    run.leave()


def test_tilde_r_applies_the_size_now(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env, rows=24, cols=80)
    run.child.setwinsize(40, 132)
    run.child.send("\r~r")
    run.type_line("stty size", r"40 132")
    assert b"now 132x40" not in (run.child.before or b"")  # a known shell: no notice
    run.leave()


def test_ctrl_c_goes_to_the_job_not_to_jobterm(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env)
    run.child.send("sleep 30; echo not-$((6*7))-interrupted\r")
    time.sleep(0.5)
    run.child.sendintr()
    os.kill(run.jobterm_pid(), signal.SIGINT)  # a SIGINT sent to jobterm is forwarded too
    run.child.expect(r"\^C")
    time.sleep(0.5)  # the second one reaches the shell too before anything is typed
    ready(run)
    assert b"not-42-interrupted" not in (run.child.before or b"")  # the echo has $((6*7))
    run.leave()


def test_full_screen_output_passes_through_unchanged(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env)
    run.child.send(r"printf '\033[?1049h\033[2J\033[5;7HFULL\033[?1049l'" + "\r")
    run.child.expect_exact(b"\x1b[?1049h\x1b[2J\x1b[5;7HFULL\x1b[?1049l")
    run.leave()


def test_one_megabyte_paste_arrives_intact(spawn_jobterm, signed_in_env):
    rng = random.Random(7)
    lines = [
        "".join(rng.choices(string.ascii_letters + string.digits + "+/", k=76))
        for _ in range(13_500)
    ]
    paste = ("\n".join(lines) + "\n").encode()[:1_000_000]
    paste = paste[: paste.rfind(b"\n") + 1]
    digest = hashlib.sha256(paste).hexdigest()
    run = ready_session(spawn_jobterm, signed_in_env)
    run.child.send(f"stty -echo; head -c {len(paste)} | sha256sum; stty echo\r")
    time.sleep(0.5)
    for i in range(0, len(paste), 4096):
        run.child.send(paste[i : i + 4096])
    run.child.expect(digest, timeout=scaled(60))
    run.leave()


def test_shell_exit_ends_the_session_and_restores_the_terminal(spawn_jobterm, signed_in_env):
    run = ready_session(spawn_jobterm, signed_in_env)
    run.type_line("exit", "still running")
    assert run.wait_done() == 0
    assert run.terminal_restored()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_restore_the_terminal(spawn_jobterm, signed_in_env, sig, code):
    run = ready_session(spawn_jobterm, signed_in_env)
    os.kill(run.jobterm_pid(), sig)
    assert run.wait_done() == code
    assert run.terminal_restored()


def test_record_writes_asciicast_with_secrets_redacted(spawn_jobterm, signed_in_env, tmp_path):
    cast = tmp_path / "session.cast"
    run = ready_session(
        spawn_jobterm, signed_in_env, "101", "--record", str(cast), "--record-input"
    )
    run.type_line("echo tok=glpat-ABCDEFGHIJKLMNOPQRST12 done-$((1+1))", "done-2")
    run.leave()
    lines = cast.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2
    assert (header["width"], header["height"]) == (80, 24)
    events = [json.loads(line) for line in lines[1:]]
    text = "".join(e[2] for e in events if e[1] == "o")
    assert "done-2" in text
    assert "glpat-ABCDEFGHIJKLMNOPQRST12" not in cast.read_text()
    assert any(e[1] == "i" for e in events)


def test_second_terminal_on_the_same_job_is_refused(spawn_jobterm, signed_in_env):
    first = attach(spawn_jobterm, signed_in_env)
    ready(first)
    second = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], signed_in_env)
    second.child.expect("another terminal may be attached")
    assert second.wait_done() == 7
    first.leave()
