"""`jobterm exec` against a misbehaving terminal and REST API, and a stdout nobody reads.

exec's contract on failure (README): exit 255 with one line on stderr; stdout carries exactly
the bytes the command wrote that arrived, in order, and nothing else; no secret anywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

import reliability
from reliability import assert_no_secrets, secrets_of, vm_kb, wait_terminal_free
from util import popen_piped, scaled

# fixtures shared by the reliability modules (one home: reliability.py)
signed_in_env = reliability.signed_in_env
faults = reliability.faults


def exec_argv(*command: str) -> list[str]:
    return [sys.executable, "-m", "jobterm", "exec", "101", "-p", "demo/webapp", "--", *command]


def run_exec(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        exec_argv(*command),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=scaled(60),
    )


def failed(result: subprocess.CompletedProcess[bytes], sandbox: Any, env: dict[str, str]) -> str:
    """exec failed as documented: 255, one line, no secret; returns the line."""
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 255, err
    assert err.count("\n") == 1, err
    assert err.startswith("jobterm: ")
    assert "Traceback" not in err
    assert_no_secrets(result.stdout + result.stderr, secrets_of(env, sandbox))
    return err.strip()


def seq_text(n: int) -> bytes:
    return b"".join(b"%d\n" % i for i in range(1, n + 1))


def test_drop_mid_stream_keeps_a_clean_prefix(signed_in_env, sandbox, faults):
    limit = 200_000
    faults(drop_after_bytes=limit)
    result = run_exec(signed_in_env, "seq", "1", "100000")
    line = failed(result, sandbox, signed_in_env)
    assert "before the command's exit status arrived" in line
    # stdout is the start of what seq wrote, nothing else (no marker, echo or prompt), and
    # holds all that came before the drop but the set-up and one held-back marker's length.
    assert seq_text(100000).startswith(result.stdout)
    assert len(result.stdout) > limit - 8000


def test_silent_server_is_detected(signed_in_env, sandbox, faults):
    faults(silent=True)
    env = dict(signed_in_env, JOBTERM_PING_INTERVAL="0.3", JOBTERM_PING_TIMEOUT="0.6")
    result = run_exec(env, "true")
    assert "connection lost" in failed(result, sandbox, env)
    assert result.stdout == b""


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"text_on_binary": True}, "text frame"),
        ({"subprotocol": "base64.terminal.gitlab.com"}, "not valid base64"),
        ({"oversized_frame": 5 * 1024 * 1024}, "larger than 4 MiB"),
        ({"subprotocol": "v2.terminal.gitlab.com"}, "handshake"),
    ],
    ids=["text-frame", "invalid-base64", "oversized-frame", "unknown-subprotocol"],
)
def test_protocol_faults(signed_in_env, sandbox, faults, fault, says):
    faults(**fault)
    result = run_exec(signed_in_env, "echo", "never-seen")
    assert says in failed(result, sandbox, signed_in_env)
    assert b"never-seen" not in result.stdout


def test_no_subprotocol_works_unwrapped(signed_in_env, sandbox, faults):
    faults(subprotocol="")
    result = run_exec(signed_in_env, "echo", "unwrapped-ok")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"unwrapped-ok\n"


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"kind": "server_error", "status": 502}, "failed with 502"),
        ({"kind": "rate_limit", "retry_after": 7}, "wait 7 seconds"),
        ({"kind": "html"}, "HTML page"),
        ({"kind": "sign_in_redirect"}, "jobterm login"),
    ],
    ids=["5xx", "429-retry-after", "html-not-json", "redirect-to-sign-in"],
)
def test_rest_faults(signed_in_env, sandbox, faults, fault, says):
    """exec asks REST only when it must (here: --wait polls the job's status)."""
    sandbox.admin("POST", "/faults", **fault)
    result = subprocess.run(
        [*exec_argv("true")[:-2], "--wait", "--", "true"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=signed_in_env,
        timeout=scaled(60),
    )
    assert says in failed(result, sandbox, signed_in_env)
    assert result.stdout == b""


def test_unread_stdout_bounds_memory_and_loses_nothing(signed_in_env, sandbox, faults):
    size = 20_000_000
    with popen_piped(exec_argv("head", "-c", str(size), "/dev/zero"), signed_in_env) as proc:
        assert proc.stdout is not None
        first = proc.stdout.read(1)  # connected and streaming
        assert first == b"\0"
        before = vm_kb(proc.pid)
        time.sleep(scaled(2))  # nobody reads: everything upstream must wait
        grown = vm_kb(proc.pid) - before
        rest = proc.stdout.read()
        _, err = proc.communicate(timeout=scaled(60))
    assert proc.returncode == 0, err
    assert grown < 8 * 1024, f"exec grew {grown} KiB while its stdout was not read"
    assert len(first + rest) == size
    assert (first + rest).count(b"\0") == size


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 255), (signal.SIGHUP, 255)]
)
def test_signal_during_output(signed_in_env, sandbox, faults, sig, code):
    """jobterm sends Ctrl-C to the job and ends; the output that arrived has no gap."""
    # readline() then communicate(): nothing may sit in a Python buffer
    with popen_piped(
        exec_argv("sh", "-c", "while :; do echo flood-flood-flood; done"), signed_in_env, bufsize=0
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"flood-flood-flood\n"
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=scaled(30))
    assert proc.returncode == code, err
    text = err.decode("utf-8", "replace")
    assert text.count("\n") == 1, text
    assert text.startswith("jobterm: ")
    assert_no_secrets(out + err, secrets_of(signed_in_env, sandbox))
    # What did arrive is whole lines of the command's output and nothing else.
    lines = out.split(b"\n")
    bad = [line for line in lines[:-1] if line != b"flood-flood-flood"]
    assert not bad, (bad[:5], err)
    assert b"flood-flood-flood".startswith(lines[-1])
    wait_terminal_free(sandbox)  # the remote command was stopped and the session closed
