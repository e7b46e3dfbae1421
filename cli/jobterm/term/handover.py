"""A held terminal connection handed over: to the user as a shell (the session `attach` runs,
prepared), or to one command (exec's machine, in the same prepared place). What `debug` does
once its job's script has ended, and what a watcher of many jobs does with the one that failed.

The preparation (core/prepare.py) rides on the session's set-up for a shell. For a command,
its lines are typed ahead of exec's bootstrap, whose `exec sh` keeps their directory and
variables; the shell's report, printed before exec's first marker (which exec discards up
to), is read on the way by a ReportScanner and becomes the one line about the shell.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobterm.core.prepare import Prepare, ReportScanner, describe
from jobterm.term.attach import AttachOptions, AttachSession, Outcome, SessionInfo
from jobterm.term.tty import raw_mode, write_all

if TYPE_CHECKING:
    from jobterm.core.execscript import ExecSpec
    from jobterm.term.connection import TerminalConnection


async def shell(
    conn: TerminalConnection,
    options: AttachOptions,
    info: SessionInfo,
    fds: tuple[int, int],
    say: Callable[[str], None],
) -> tuple[int | None, bool]:
    """The user's shell on `conn` until they leave or it ends, the terminal raw meanwhile:
    (-N for signal N or None, whether the server ended the session)."""
    in_fd, out_fd = fds
    with raw_mode(in_fd):
        session = AttachSession(conn, options, info, in_fd, out_fd)
        result = await session.run()
        if not session.at_line_start:
            with contextlib.suppress(OSError):
                write_all(out_fd, b"\r\n")
    if result.outcome is Outcome.SIGNALLED and result.signal is not None:
        return -result.signal, False
    if result.outcome is Outcome.LOST and result.error is not None:
        say(f"the terminal connection was lost: {result.error.message}")
    return None, result.outcome is not Outcome.DETACHED


async def command(
    conn: TerminalConnection,
    spec: ExecSpec,
    prepare: Prepare,
    fds: tuple[int, int, int],
    say: Callable[[str], None],
) -> int:
    """`spec` run on `conn` with exec's guarantees, in the prepared place; its status."""
    from jobterm.core.execproto import Protocol
    from jobterm.core.execrun import ExecMachine, ExecOptions
    from jobterm.term.exec import ExecRun, Streams

    nonce = secrets.token_hex(8)
    for line in prepare.lines(nonce):
        await conn.send(line.encode() + b"\r")
    scanner = ReportScanner(nonce)

    def watch(data: bytes) -> None:
        text = describe(scanner.feed(data), prepare.facts, moved=prepare.move)
        if text is not None:
            say(text)

    machine = ExecMachine(Protocol(spec), ExecOptions(), stdin_is_tty=os.isatty(fds[0]))
    return await ExecRun(conn, machine, Streams(*fds), watch).run()
