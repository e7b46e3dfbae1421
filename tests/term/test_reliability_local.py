"""Trouble on the local side of `jobterm attach`: a terminal that stops reading, signals in
the middle of heavy output, and the terminal window going away (a real hangup)."""

from __future__ import annotations

import os
import select
import signal
import time

import pytest

import reliability
from reliability import (
    assert_no_secrets,
    closing_line,
    secrets_of,
    shown,
    start_session,
    vm_kb,
    wait_terminal_free,
)
from util import process_gone, scaled

END = b"END-42"


# fixtures shared by the reliability modules (one home: reliability.py)
signed_in_env = reliability.signed_in_env


@pytest.fixture(autouse=True)
def _job_free(sandbox):
    wait_terminal_free(sandbox)
    yield
    wait_terminal_free(sandbox)


def count_until_end(run, letter: bytes, timeout: float) -> int:
    """Read the terminal directly (no pexpect buffer growth), counting `letter` up to END."""
    child = run.child
    data = bytes(child.buffer)
    child.buffer = b""
    count = 0
    deadline = time.monotonic() + scaled(timeout)
    while True:
        index = data.find(END)
        if index >= 0:
            return count + data[:index].count(letter)
        keep = len(END) - 1
        count += data[:-keep].count(letter)
        data = data[-keep:]
        assert time.monotonic() < deadline, f"no {END!r} after {count} bytes"
        ready_fds, _, _ = select.select([child.child_fd], [], [], 1.0)
        if ready_fds:
            data += os.read(child.child_fd, 1 << 16)


def test_stopped_terminal_bounds_memory_and_loses_nothing(spawn_jobterm, signed_in_env, sandbox):
    size = 20_000_000
    run = start_session(spawn_jobterm, signed_in_env)
    pid = run.jobterm_pid()
    before = vm_kb(pid)
    # \121 is Q: the typed command itself contains no Q.
    run.child.send(f"head -c {size} /dev/zero | tr '\\0' '\\121'; echo; echo END-$((6*7))\r")
    time.sleep(scaled(2))  # the terminal reads nothing: everything upstream must wait
    grown_kb = vm_kb(pid) - before
    assert grown_kb < 8 * 1024, f"jobterm grew {grown_kb} KiB while its terminal was stopped"
    assert count_until_end(run, b"Q", timeout=120) == size
    assert vm_kb(pid) - before < 8 * 1024
    run.leave()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_during_heavy_output(spawn_jobterm, signed_in_env, sandbox, sig, code):
    run = start_session(spawn_jobterm, signed_in_env)
    run.type_line("while :; do echo flood-flood-flood-flood; done", "flood-flood")
    os.kill(run.jobterm_pid(), sig)
    assert run.wait_done() == code
    assert run.terminal_restored()
    line = closing_line(run)
    assert signal.Signals(sig).name in line
    assert_no_secrets(shown(run), secrets_of(signed_in_env, sandbox))
    wait_terminal_free(sandbox)  # the server saw jobterm leave: the job can be attached again


def test_terminal_hangup_ends_jobterm_and_frees_the_job(spawn_jobterm, signed_in_env, sandbox):
    """Closing the terminal window: the PTY master goes away, jobterm gets SIGHUP and EIO."""
    run = start_session(spawn_jobterm, signed_in_env)
    pid = run.jobterm_pid()
    run.type_line("while :; do echo flood-flood-flood-flood; sleep 0.01; done", "flood-flood")
    run.child.close(force=False)  # close the master side, as a terminal emulator would
    assert process_gone(pid, within=15), "jobterm lingered after its terminal hung up"
    wait_terminal_free(sandbox)
