"""The sandbox's shells in real PTYs (pty.py), driven directly on an event loop."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jobterm.sandbox.pty import SESSION_MARK, new_session_mark, signal_marked_session
from util import process_gone, scaled

T = TypeVar("T")

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/", "PS1": "$ "}


def run(main: Callable[[], Awaitable[T]], timeout: float = 20) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main(), scaled(timeout))

    return asyncio.run(bounded())


async def read_until(shell: Any, pattern: bytes, timeout: float = 10) -> bytes:
    output = b""
    while pattern not in output:
        data = await asyncio.wait_for(shell.read(), scaled(timeout))
        assert data, f"EOF before {pattern!r}: {output[-300:]!r}"
        output += data
    return output


async def read_to_eof(shell: Any) -> bytes:
    output = b""
    while data := await asyncio.wait_for(shell.read(), scaled(10)):
        output += data
    return output


BACKGROUND = re.compile(rb"BG=(\d+)\r?\n")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


FACTS = re.compile(rb"S=(\d+ \d+)\|T=(/dev/\S+)\|P=([^|]*)\|L=(\d+)\|M=(\d+)\|")


@pytest.mark.parametrize("argv", [["bash", "-l"], ["dash"], ["sh"]])
def test_shell_gets_a_zero_by_zero_controlling_terminal(argv: list[str], tmp_path: Path) -> None:
    from jobterm.sandbox.pty import ShellPool

    async def main() -> bytes:
        pool = ShellPool()
        shell = await pool.start(argv, cwd=tmp_path, env=ENV)
        # sid = the shell's pid: a session leader; `tty` answers: it has a controlling tty.
        await shell.write(
            b"echo \"S=$(stty size)|T=$(tty)|P=$(pwd)|L=$(ps -o sid= -p $$ | tr -d ' ')|M=$$|\"\n"
        )
        output = b""
        while not FACTS.search(output):
            output += await asyncio.wait_for(shell.read(), scaled(10))
        await pool.close_all()
        return output

    found = FACTS.search(run(main))
    assert found is not None
    size, tty, pwd, sid, pid = (g.decode() for g in found.groups())
    assert size == "0 0"
    assert tty.startswith("/dev/pts/")
    assert pwd == str(tmp_path)
    assert sid == pid


def test_environment_is_exactly_what_was_given(tmp_path: Path) -> None:
    from jobterm.sandbox.pty import PtyShell

    async def main() -> bytes:
        shell = await PtyShell.start(["sh"], cwd=tmp_path, env={**ENV, "CI_JOB_ID": "7"})
        # Prefixed: the echo of the typed line and the prompt may land anywhere in the output.
        await shell.write(b"env | sed 's/^/ENV:/'; exit\n")
        output = await read_to_eof(shell)
        await shell.close()
        return output

    names = set(re.findall(r"ENV:(\w+)=", run(main).decode()))
    assert {"CI_JOB_ID", "PATH", "HOME"} <= names
    assert "TERM" not in names
    assert "PYTEST_CURRENT_TEST" not in names  # nothing of the server's environment leaks


def test_output_is_complete_when_the_shell_exits(tmp_path: Path) -> None:
    from jobterm.sandbox.pty import PtyShell

    async def main() -> tuple[bytes, int | None]:
        shell = await PtyShell.start(["sh"], cwd=tmp_path, env=ENV)
        await shell.write(b"stty -echo; head -c 300000 /dev/zero | tr '\\0' x; exit 3\n")
        output = await read_to_eof(shell)
        await shell.close()
        return output, shell.returncode

    output, code = run(main)
    assert output.partition(b"\r\n")[2].count(b"x") == 300000  # after the echoed line
    assert code == 3


def test_reading_is_bounded_and_loses_nothing(tmp_path: Path) -> None:
    """A reader that does not read: the buffer stops at its limit, the shell waits."""
    from jobterm.sandbox.pty import PtyShell

    async def main() -> tuple[int, bytes]:
        shell = await PtyShell.start(["sh"], cwd=tmp_path, env=ENV, buffer_limit=8192)
        await shell.write(
            b"stty -echo; head -c 2000000 /dev/zero | tr '\\0' y; echo; echo DO''NE\n"
        )
        await asyncio.sleep(0.5)  # nobody reads meanwhile
        buffered = shell.buffered
        output = await read_until(shell, b"DONE")
        await shell.close()
        return buffered, output

    buffered, output = run(main)
    assert 0 < buffered <= 8192
    assert output.partition(b"\r\n")[2].count(b"y") == 2_000_000


def test_writing_waits_for_the_shell_and_loses_nothing(tmp_path: Path) -> None:
    from jobterm.sandbox.pty import PtyShell

    async def main() -> bytes:
        shell = await PtyShell.start(["sh"], cwd=tmp_path, env=ENV)
        await shell.write(b"stty raw -echo; head -c 500000 | wc -c; stty sane\n")
        await asyncio.sleep(0.2)
        await shell.write(b"z" * 500_000)  # far more than the PTY's input queue holds
        output = await read_until(shell, b"500000")
        await shell.close()
        return output

    assert b"500000" in run(main)


def test_close_all_kills_shells_their_background_jobs_and_closes_fds(tmp_path: Path) -> None:
    from jobterm.sandbox.pty import ShellPool

    before = open_fds()

    async def main() -> list[int]:
        pool = ShellPool()
        pids: list[int] = []
        try:
            for argv in (["bash", "-l"], ["dash"], ["bash", "-l"]):
                shell = await pool.start(argv, cwd=tmp_path, env=ENV)
                pids.append(shell.pid)
                # A background job in its own process group, and one ignoring SIGHUP.
                await shell.write(
                    b"sleep 300 & echo B''G=$!; (trap '' HUP; exec sleep 301) & echo B''G=$!\n"
                )
                output = b""
                while len(BACKGROUND.findall(output)) < 2:
                    output += await asyncio.wait_for(shell.read(), scaled(10))
                pids += [int(pid) for pid in BACKGROUND.findall(output)]
            assert len(pool) == 3
        finally:
            await pool.close_all()  # even when the test fails: no sleeps left behind
        assert len(pool) == 0
        return pids

    pids = run(main)
    assert len(pids) == 9
    assert [pid for pid in pids if not process_gone(pid, within=5)] == []
    assert open_fds() == before  # every PTY master closed


def test_close_is_idempotent_and_write_after_close_fails(tmp_path: Path) -> None:
    from jobterm.sandbox.pty import PtyShell

    async def main() -> None:
        shell = await PtyShell.start(["sh"], cwd=tmp_path, env=ENV)
        await shell.close()
        await shell.close()
        assert shell.closed
        assert await shell.read() == b""
        with pytest.raises(ConnectionResetError):
            await shell.write(b"echo\n")

    run(main)


def test_missing_shell_raises_oserror_and_leaks_nothing(tmp_path: Path) -> None:
    from jobterm.sandbox.pty import PtyShell

    before = open_fds()

    async def main() -> None:
        with pytest.raises(FileNotFoundError):
            await PtyShell.start(["/no/such/shell"], cwd=tmp_path, env=ENV)

    run(main)
    assert open_fds() == before


# -- whom the sandbox may signal -----------------------------------------------------------
# A session id is a pid, and pids are reused: a kill aimed at a finished shell's session must
# reach only processes that carry that session's mark, never whoever holds the number now.


def _unrelated_session(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True, env=env)


def test_session_kill_spares_a_process_without_the_mark() -> None:
    stranger = _unrelated_session({"PATH": os.environ["PATH"]})
    try:
        # The stranger leads session stranger.pid, as a recycled pid would.
        signal_marked_session(stranger.pid, new_session_mark(), signal.SIGKILL)
        time.sleep(0.2)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_session_kill_reaches_a_marked_member() -> None:
    mark = new_session_mark()
    member = _unrelated_session({"PATH": os.environ["PATH"], SESSION_MARK: mark})
    try:
        signal_marked_session(member.pid, mark, signal.SIGKILL)
        assert member.wait(timeout=scaled(5)) == -signal.SIGKILL
    finally:
        member.kill()
        member.wait()


def test_session_kill_spares_another_session_with_the_same_mark() -> None:
    mark = new_session_mark()
    other = _unrelated_session({"PATH": os.environ["PATH"], SESSION_MARK: mark})
    try:
        signal_marked_session(os.getpid(), mark, signal.SIGKILL)
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
