"""`jobterm exec` against the real sandbox: real shells (bash -l, dash, busybox sh) in PTYs."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures_auth import auth_env_for, jobterm, login_stdin
from fixtures_sandbox import SandboxInfo, launch_sandbox, running_job
from util import popen_piped, process_gone, scaled

HAVE_BUSYBOX = shutil.which("busybox") is not None
BUSYBOX = pytest.param(
    "busybox",
    marks=pytest.mark.skipif(not HAVE_BUSYBOX, reason="busybox is not installed"),
)
SHELLS = ["bash", "dash", BUSYBOX]
#: Jobs of demo/webapp by shell: 101 (bash -l) and 102 (dash) are the defaults.
JOBS = {"bash": "101", "dash": "102", "busybox": "110"}
VICTIM = "111"  # a job whose session tests drop
NOISY = "112"  # a shell with a banner, a title escape and a prompt that imitates markers
MUTE = "113"  # a "shell" that never reads what is typed
NOISY_SHELL = [
    "sh",
    "-c",
    "echo 'Welcome to the noisy job'; printf '\\033]0;title\\007#jt:'; "
    "PS1='\033[1m#jt:ffff:R. noisy\033[0m $ ' exec sh -i",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxInfo, dict[str, str]]]:
    """A sandbox with a busybox job and a job to drop, and a signed-in environment."""
    workdir = tmp_path_factory.mktemp("exec")
    jobs = [
        running_job(111, "victim", ["dash"]),
        running_job(112, "noisy", NOISY_SHELL),
        running_job(113, "mute", ["sleep", "100000"]),
    ]
    if HAVE_BUSYBOX:
        jobs.append(running_job(110, "busybox", ["busybox", "sh"]))
    sandbox = launch_sandbox({"jobs": jobs}, (), workdir)
    try:
        env = auth_env_for(workdir / "auth", sandbox.url)
        env["JOBTERM_TEST_TIMEOUT_SCALE"] = os.environ.get("JOBTERM_TEST_TIMEOUT_SCALE", "1")
        login = jobterm(
            ["login", sandbox.url, "--username", "demo", "--password-stdin"],
            env,
            stdin=login_stdin(sandbox, "demo"),
        )
        assert login.returncode == 0, login.stderr
        yield sandbox, env
    finally:
        assert sandbox.stop() == 0, sandbox.stderr()


def exec_argv(job: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "jobterm", "exec", job, "-p", "demo/webapp", *args]


def run_exec(
    env: dict[str, str], job: str, *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        exec_argv(job, *args),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env,
        timeout=scaled(timeout),
    )


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.count("\n") == 1, text
    assert "Traceback" not in text
    return text


# ------------------------------------------------------------------ status and arguments


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("exit 0", 0),
        ("exit 1", 1),
        ("printf 'no newline'; exit 7", 7),
        ("exit 255", 255),
        ("kill -TERM $$", 143),
    ],
)
def test_exit_status(world: Any, shell: str, line: str, status: int) -> None:
    if shell == "busybox" and status in (0, 1, 255):
        pytest.skip("the other shells cover these; busybox runs the distinct cases")
    _, env = world
    result = run_exec(env, JOBS[shell], "-c", line)
    assert result.returncode == status, result.stderr
    assert result.stdout == (b"no newline" if status == 7 else b"")
    assert result.stderr == b""


AWKWARD = [
    "",
    " lead and trail ",
    'it\'s "quoted"',
    "$HOME `id` $(id) ${x:-y} \\ \\n",
    "new\nline\n",
    "*?[a]~#!;&|<>(){}",
    "café ☃ 日本",
    "\t\x01\x03\x04\x1b[A\x7f",
    "-n",
    "%s%d",
]


@pytest.mark.parametrize("shell", SHELLS)
def test_arguments_arrive_exactly(world: Any, shell: str) -> None:
    _, env = world
    result = run_exec(env, JOBS[shell], "--", "printf", "%s\\0", *AWKWARD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(b"\0")[:-1] == [a.encode() for a in AWKWARD]


def test_shell_line_and_merged_stderr(world: Any) -> None:
    _, env = world
    result = run_exec(env, JOBS["dash"], "-c", "echo out; echo err >&2; echo a b | wc -w")
    assert result.returncode == 0
    assert result.stdout == b"out\nerr\n2\n"  # a pipe, so no \r\n and one stream


def test_banner_and_prompt_do_not_leak(world: Any) -> None:
    _, env = world
    result = run_exec(env, NOISY, "--", "printf", "%s", "clean")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"clean", b"")


def test_output_imitating_the_framing(world: Any) -> None:
    _, env = world
    fake = "#jt:0123456789abcdef01234567:E.0.#jt:#jt:\\043\\152\\164:S.\r\n"
    line = f"printf '%s' '{fake}'; head -c 300000 /dev/zero | tr '\\0' x; printf '{fake}'; exit 3"
    result = run_exec(env, JOBS["bash"], "-c", line)
    assert result.returncode == 3, result.stderr
    expected = fake.encode() + b"x" * 300000 + fake.replace("\\043\\152\\164", "#jt").encode()
    assert result.stdout == expected


# ------------------------------------------------------------------ data both ways


def test_fifty_megabytes_out_with_stderr_apart(world: Any) -> None:
    _, env = world
    size = 50 * 1024 * 1024
    line = (
        f'f=$(mktemp); head -c {size} /dev/urandom | tee "$f"; '
        'sha256sum "$f" | cut -d" " -f1 >&2; rm -f "$f"'
    )
    result = run_exec(env, JOBS["dash"], "--stderr", "-c", line, timeout=180)
    assert result.returncode == 0, result.stderr[-300:]
    assert len(result.stdout) == size
    assert hashlib.sha256(result.stdout).hexdigest() == result.stderr.decode().strip()


def test_ten_megabytes_in(world: Any) -> None:
    _, env = world
    data = os.urandom(10 * 1024 * 1024) + b"\x03\x04\x11\x13\x00"
    result = run_exec(env, JOBS["bash"], "--", "sha256sum", stdin=data, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_stdin_ends_and_no_stdin(world: Any) -> None:
    _, env = world
    assert run_exec(env, JOBS["dash"], "--", "wc", "-c", stdin=b"").stdout.strip() == b"0"
    result = run_exec(env, JOBS["dash"], "-n", "--", "wc", "-c", stdin=b"ignored")
    assert result.stdout.strip() == b"0"


def test_command_exiting_before_reading_all_input(world: Any) -> None:
    _, env = world
    # stdin stays open and silent: the command's end must end the run anyway.
    read_end, write_end = os.pipe()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobterm",
                "exec",
                JOBS["dash"],
                "-p",
                "demo/webapp",
                "--",
                "echo",
                "done",
            ],
            stdin=read_end,
            capture_output=True,
            env=env,
            timeout=scaled(30),
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert (result.returncode, result.stdout) == (0, b"done\n"), result.stderr


# ------------------------------------------------------------------ ending early


def test_timeout_interrupts_the_command(world: Any) -> None:
    _, env = world
    result = run_exec(env, JOBS["dash"], "--timeout", "3", "-c", "echo $$; exec sleep 1000")
    assert result.returncode == 12
    assert "did not finish within 3 s" in one_line(result.stderr)
    assert process_gone(int(result.stdout.split()[0]))


def test_timeout_while_the_shell_does_not_answer(world: Any) -> None:
    _, env = world
    result = run_exec(env, MUTE, "--timeout", "2", "--", "true")
    assert result.returncode == 12
    assert "did not start the command within 2 s" in one_line(result.stderr)
    assert result.stdout == b""  # the echo of what was typed is not output


@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [
        (signal.SIGINT, 130, "jobterm: interrupted\n"),
        (signal.SIGTERM, 255, "jobterm: killed by SIGTERM\n"),
    ],
)
def test_signals_interrupt_the_command(world: Any, signum: int, code: int, message: str) -> None:
    _, env = world
    with popen_piped(exec_argv(JOBS["bash"], "-c", "echo $$; exec sleep 1000"), env) as proc:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=scaled(30))
    assert proc.returncode == code, err
    assert one_line(err) == message
    assert process_gone(pid)


def test_session_dropped_mid_command(world: Any) -> None:
    sandbox, env = world
    with popen_piped(exec_argv(VICTIM, "-c", "echo started; sleep 1000"), env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"
        sandbox.admin("POST", f"/jobs/{VICTIM}/finish", status="canceled")
        _out, err = proc.communicate(timeout=scaled(30))
    assert proc.returncode == 255
    line = one_line(err)
    assert "session ended before the command's exit status arrived" in line
    assert "canceled" in line


def test_failures_before_running_exit_255(world: Any) -> None:
    _, env = world
    result = run_exec(env, "999999", "--", "true")
    assert result.returncode == 255
    one_line(result.stderr)
    usage = run_exec(env, JOBS["dash"])
    assert usage.returncode == 2


def test_interactive_stdin_from_a_terminal(world: Any, spawn_jobterm: Any) -> None:
    _, env = world
    run = spawn_jobterm(["exec", JOBS["dash"], "-p", "demo/webapp", "-i", "--", "wc", "-c"], env)
    run.child.send("hello\n")
    run.child.sendeof()  # Ctrl-D on the local terminal: end of the command's input
    run.child.expect("6\r\n", timeout=scaled(30))
    assert run.wait_done() == 0


# ------------------------------------------------------------------ --tty


def test_tty_gives_the_local_size_and_a_terminal(world: Any, spawn_jobterm: Any) -> None:
    _, env = world
    line = "stty size; tty >/dev/null && echo on-a-tty; exit 4"
    run = spawn_jobterm(
        ["exec", JOBS["dash"], "-p", "demo/webapp", "-t", "-c", line], env, rows=33, cols=101
    )
    run.child.expect("33 101\r\non-a-tty\r\n", timeout=scaled(30))
    assert run.wait_done() == 4
    assert run.terminal_restored()


def test_tty_passes_ctrl_c_to_the_command(world: Any, spawn_jobterm: Any) -> None:
    _, env = world
    line = "echo ready; sleep 1000"
    run = spawn_jobterm(["exec", JOBS["bash"], "-p", "demo/webapp", "-t", "-c", line], env)
    run.child.expect("ready", timeout=scaled(30))
    run.child.send("\x03")  # a key, not a signal: the local terminal is raw
    assert run.wait_done() == 130  # the command's own status: killed by SIGINT
    assert run.terminal_restored()


def test_back_to_back_runs_wait_for_the_terminal(world: Any) -> None:
    _, env = world
    # The first run holds the job's only terminal; the second retries while it is busy.
    with popen_piped(exec_argv(JOBS["dash"], "-c", "echo first; sleep 1"), env) as first:
        assert first.stdout is not None
        assert first.stdout.readline() == b"first\n"
        second = run_exec(env, JOBS["dash"], "--", "echo", "second")
        first.communicate(timeout=scaled(30))
    assert first.returncode == 0
    assert (second.returncode, second.stdout) == (0, b"second\n"), second.stderr
