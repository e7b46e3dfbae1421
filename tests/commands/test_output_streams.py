"""Class: the standard streams as well-behaved Unix tools treat them.

* Every command that prints, with its reader gone before it writes (`| head` that already
  exited): ends quietly, 0; `exec` follows its own rule: 255 and one line.
* The same with stdout closed (`>&-`): one line saying so, exit 1 (`exec`: 255), never an
  internal error or a traceback, and no file of jobterm's takes stdout's place.
* stdin closed (`<&-`): reads as empty. On a terminal, `login --password-stdin` prompts
  (hidden) instead of waiting silently for the terminal to be typed into.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from fixtures_auth import auth_env_for, login_stdin
from util import scaled

PRINTERS = [
    ["--version"],
    ["--help"],
    ["jobs", "--project", "demo/webapp"],
    ["jobs", "--project", "demo/webapp", "--json"],
    ["jobs", "--everywhere", "--all"],
    ["auth", "status"],
    ["sandbox", "--help"],
    ["exec", "--help"],
]
EXEC_BIG = ["exec", "101", "--project", "demo/webapp", "--", "seq", "1", "200000"]


def run_reader_gone(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start jobterm with its stdout a pipe whose reader is already gone."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobterm", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before jobterm has written anything: every write meets EPIPE
    _, err = proc.communicate(timeout=scaled(60))
    return subprocess.CompletedProcess(args, proc.returncode, "", err)


def run_stdout_closed(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = 'exec "$@" >&-'
    return subprocess.run(
        ["sh", "-c", script, "sh", sys.executable, "-m", "jobterm", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=scaled(60),
    )


@pytest.mark.parametrize("args", PRINTERS, ids=" ".join)
def test_stdout_class_reader_gone_is_quiet(signed_in_env, args):
    result = run_reader_gone(args, signed_in_env)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("args", PRINTERS, ids=" ".join)
def test_stdout_class_closed_says_so(signed_in_env, args):
    config_before = config_text(signed_in_env)
    result = run_stdout_closed(args, signed_in_env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "jobterm: cannot write the output: stdout is closed (redirect it to /dev/null to "
        "discard it)"
    ]
    assert config_text(signed_in_env) == config_before  # nothing was written into it


def config_text(env: dict[str, str]) -> str:
    return (Path(env["JOBTERM_CONFIG_DIR"]) / "config.json").read_text()


def test_stdout_class_exec_reader_gone_is_255(signed_in_env):
    result = run_reader_gone(EXEC_BIG, signed_in_env)
    assert result.returncode == 255
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_stdout_class_exec_closed_is_255(signed_in_env):
    result = run_stdout_closed(EXEC_BIG, signed_in_env)
    assert result.returncode == 255
    assert len(result.stderr.splitlines()) == 1
    assert "output" in result.stderr


def test_stdin_closed_reads_as_empty(sandbox, tmp_path):
    env = auth_env_for(tmp_path)
    args = ["login", sandbox.url, "-u", "demo", "--password-stdin"]
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", sys.executable, "-m", "jobterm", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=scaled(30),
    )
    assert result.returncode == 2
    assert "stdin ended before the password" in result.stderr


def test_password_stdin_on_a_terminal_prompts_hidden(sandbox, tmp_path):
    env = auth_env_for(tmp_path)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "jobterm", "login", sandbox.url, "-u", "demo", "--password-stdin"],
        env=env,
        timeout=scaled(20),
    )
    child.expect("Password:")
    password = login_stdin(sandbox, "demo").splitlines()[0]
    child.sendline(password)
    child.expect("Signed in")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert password.encode() not in (child.before or b"")
    assert json.loads(config_text(env))["hosts"]
