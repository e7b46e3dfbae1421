"""`jobterm attach` against a job terminal that misbehaves (the sandbox's terminal faults).

For each fault: the exit code and the one closing line, the local terminal restored, every
byte that reached the terminal intact, no secret printed.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reliability import (
    assert_no_secrets,
    attached,
    closing_line,
    ready,
    secrets_of,
    shown,
    sign_in,
    start_attach,
    wait_terminal_free,
)

Faults = Callable[..., None]


@pytest.fixture(scope="module")
def signed_in_env(sandbox, tmp_path_factory):
    """`demo`, signed in once for this module's tests."""
    return sign_in(sandbox, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def faults(sandbox: Any) -> Iterator[Faults]:
    """`faults(**settings)`: the terminal of job 101 misbehaves so, for this test only."""
    wait_terminal_free(sandbox)

    def put(**settings: Any) -> None:
        sandbox.admin("PUT", "/jobs/101/terminal/faults", **settings)

    yield put
    sandbox.admin("DELETE", "/terminal/faults")
    wait_terminal_free(sandbox)


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
    run = start_attach(spawn_jobterm, signed_in_env)
    attached(run)
    ready(run)
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


def test_text_frame_on_the_binary_protocol(spawn_jobterm, signed_in_env, sandbox, faults):
    faults(text_on_binary=True)
    run = start_attach(spawn_jobterm, signed_in_env)
    line = finish(run, 9, sandbox, signed_in_env)
    assert "text frame" in line


def test_invalid_base64_from_the_server(spawn_jobterm, signed_in_env, sandbox, faults):
    # The server claims the base64 protocol but sends the shell's raw bytes.
    faults(subprotocol="base64.terminal.gitlab.com")
    run = start_attach(spawn_jobterm, signed_in_env)
    line = finish(run, 9, sandbox, signed_in_env)
    assert "not valid base64" in line


def test_large_frame_under_the_limit_arrives_whole(spawn_jobterm, signed_in_env, sandbox, faults):
    size = 1_000_000
    faults(oversized_frame=size)
    run = start_attach(spawn_jobterm, signed_in_env)
    attached(run)
    ready(run)
    run.child.send("\r~.")
    assert run.wait_done() == 0
    assert run.terminal_restored()
    text = shown(run)
    assert b"x" * size in text
    assert b"x" * (size + 1) not in text


def test_frame_over_the_limit_is_a_protocol_error(spawn_jobterm, signed_in_env, sandbox, faults):
    faults(oversized_frame=5 * 1024 * 1024)
    run = start_attach(spawn_jobterm, signed_in_env)
    line = finish(run, 9, sandbox, signed_in_env)
    assert "larger than 4 MiB" in line


def test_unknown_subprotocol_is_refused(spawn_jobterm, signed_in_env, sandbox, faults):
    faults(subprotocol="v2.terminal.gitlab.com")
    run = start_attach(spawn_jobterm, signed_in_env)
    line = finish(run, 9, sandbox, signed_in_env)
    assert "handshake" in line or "subprotocol" in line


def test_runner_unreachable_is_busy(spawn_jobterm, signed_in_env, sandbox, faults):
    faults(runner_unreachable=True)
    run = start_attach(spawn_jobterm, signed_in_env)
    line = finish(run, 7, sandbox, signed_in_env)
    assert "could not open the terminal" in line


def test_no_subprotocol_means_unwrapped(spawn_jobterm, signed_in_env, sandbox, faults):
    """A server that names no subprotocol talks raw binary frames (spec 4): it just works."""
    faults(subprotocol="")
    env = dict(signed_in_env, JOBTERM_DEBUG="1")  # the debug log names the subprotocol
    run = start_attach(spawn_jobterm, env)
    attached(run)
    ready(run)
    run.child.send("\r~.")
    assert run.wait_done() == 0
    assert run.terminal_restored()
    assert b"subprotocol none (unwrapped)" in shown(run)
    assert_no_secrets(shown(run), secrets_of(env, sandbox))  # not even in the debug log


def test_server_freezing_mid_session_is_detected(spawn_jobterm, signed_in_env, sandbox, faults):
    """GitLab stops answering in the middle of a session (its process stopped)."""
    env = dict(signed_in_env, JOBTERM_PING_INTERVAL="0.3", JOBTERM_PING_TIMEOUT="0.6")
    run = start_attach(spawn_jobterm, env)
    attached(run)
    ready(run)
    sandbox.proc.send_signal(signal.SIGSTOP)
    try:
        run.child.send("echo typed-into-the-void\r")
        line = finish(run, 10, sandbox, env)
    finally:
        sandbox.proc.send_signal(signal.SIGCONT)
    assert "connection lost" in line
