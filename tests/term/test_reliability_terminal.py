"""`jobterm attach` against a job terminal that misbehaves (the sandbox's terminal faults).

For each fault: the exit code and the one closing line, the local terminal restored, every
byte that reached the terminal intact, no secret printed.
"""

from __future__ import annotations

import re
import signal
from typing import Any

import pytest

import reliability
from reliability import (
    assert_no_secrets,
    attached,
    closing_line,
    secrets_of,
    shown,
    start_attach,
    start_session,
)

# fixtures shared by the reliability modules (one home: reliability.py)
signed_in_env = reliability.signed_in_env
faults = reliability.faults


def finish(run: Any, code: int, sandbox: Any, env: dict[str, str]) -> str:
    """Common checks at the end of a session; returns the closing line."""
    assert run.wait_done() == code, shown(run)[-1500:]
    assert run.terminal_restored()
    assert_no_secrets(shown(run), secrets_of(env, sandbox))
    return closing_line(run)


def test_drop_mid_stream_keeps_every_byte_sent_before_it(
    spawn_jobterm, signed_in_env, sandbox, faults
):
    limit = 150_000
    faults(drop_after_bytes=limit)
    run = start_session(spawn_jobterm, signed_in_env)
    run.child.send("seq 1 60000\r")
    line = finish(run, 0, sandbox, signed_in_env)
    assert "terminal session ended" in line
    assert "still running" in line
    text = shown(run).decode("ascii", "replace")
    # The numbers that arrived are 1..k with no gap, and k accounts for (almost) all of the
    # bytes the server sent before it dropped (the rest was the prompt and the set-up).
    numbers = [int(n) for n in re.findall(r"(?m)^(\d+)\r$", text)]
    start = numbers.index(1)
    seq = numbers[start:]
    # The drop may cut the last number short ("2295" of 22959): a prefix of the next one.
    assert seq[:-1] == list(range(1, len(seq)))
    assert str(len(seq)).startswith(str(seq[-1]))
    seq_bytes = sum(len(str(n)) + 2 for n in seq)
    assert limit - 4000 < seq_bytes <= limit


def test_silent_server_is_detected_by_the_keepalive(spawn_jobterm, signed_in_env, sandbox, faults):
    faults(silent=True)
    env = dict(signed_in_env, JOBTERM_PING_INTERVAL="0.3", JOBTERM_PING_TIMEOUT="0.6")
    run = start_attach(spawn_jobterm, env)
    attached(run)
    line = finish(run, 10, sandbox, env)
    assert "connection lost" in line
    assert "stopped answering" in line


@pytest.mark.parametrize(
    ("fault", "code", "says"),
    [
        ({"text_on_binary": True}, 9, ("text frame",)),
        # the server claims the base64 protocol but sends the shell's raw bytes
        ({"subprotocol": "base64.terminal.gitlab.com"}, 9, ("not valid base64",)),
        ({"oversized_frame": 5 * 1024 * 1024}, 9, ("larger than 4 MiB",)),
        ({"subprotocol": "v2.terminal.gitlab.com"}, 9, ("handshake", "subprotocol")),
        ({"runner_unreachable": True}, 7, ("could not open the terminal",)),
    ],
    ids=["text-frame", "invalid-base64", "frame-over-the-limit", "unknown-subprotocol",
         "runner-unreachable"],
)  # fmt: skip
def test_a_broken_terminal_ends_with_its_code_and_says_why(
    spawn_jobterm, signed_in_env, sandbox, faults, fault, code, says
):
    """Each fault: its exit code, and one closing line that names it (any of `says`)."""
    faults(**fault)
    run = start_attach(spawn_jobterm, signed_in_env)
    line = finish(run, code, sandbox, signed_in_env)
    assert any(words in line for words in says), line


def test_large_frame_under_the_limit_arrives_whole(spawn_jobterm, signed_in_env, sandbox, faults):
    size = 1_000_000
    faults(oversized_frame=size)
    run = start_session(spawn_jobterm, signed_in_env)
    run.leave()
    text = shown(run)
    assert b"x" * size in text
    assert b"x" * (size + 1) not in text


def test_no_subprotocol_means_unwrapped(spawn_jobterm, signed_in_env, sandbox, faults):
    """A server that names no subprotocol talks raw binary frames (spec 4): it just works."""
    faults(subprotocol="")
    env = dict(signed_in_env, JOBTERM_DEBUG="1")  # the debug log names the subprotocol
    run = start_session(spawn_jobterm, env)
    run.leave()
    assert b"subprotocol none (unwrapped)" in shown(run)
    assert_no_secrets(shown(run), secrets_of(env, sandbox))  # not even in the debug log


def test_server_freezing_mid_session_is_detected(spawn_jobterm, signed_in_env, sandbox, faults):
    """GitLab stops answering in the middle of a session (its process stopped)."""
    env = dict(signed_in_env, JOBTERM_PING_INTERVAL="0.3", JOBTERM_PING_TIMEOUT="0.6")
    run = start_session(spawn_jobterm, env)
    sandbox.proc.send_signal(signal.SIGSTOP)
    try:
        run.child.send("echo typed-into-the-void\r")
        line = finish(run, 10, sandbox, env)
    finally:
        sandbox.proc.send_signal(signal.SIGCONT)
    assert "connection lost" in line
