"""Signals during an interactive session, delivered as event-loop callbacks.

* SIGINT goes to the job as Ctrl-C (0x03), in order with the keys: jobterm never dies of it.
* SIGWINCH: the window changed; the session applies the size at the job's next prompt.
* SIGTSTP (`kill -TSTP`, or the `~^Z` escape): the terminal is given back as it was, then
  jobterm stops. SIGCONT (`fg`): if the terminal is not raw (our own stop, or a SIGSTOP that
  could not be caught, after which the shell put its own settings back), raw mode again, a
  one-line notice, and the size checked.
* SIGTERM / SIGHUP end the session; the caller restores the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import termios
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobterm.core.escape import shown
from jobterm.term.tty import terminal_size, write_all

if TYPE_CHECKING:
    from jobterm.term.attach import AttachSession


def install_signals(session: AttachSession, loop: asyncio.AbstractEventLoop) -> list[int]:
    """Install the session's handlers; returns the signals to remove afterwards."""
    from jobterm.term.attach import Outcome, Result

    def on_sigint() -> None:
        task = asyncio.ensure_future(session.type_keys(b"\x03"))
        task.add_done_callback(_quiet)

    def on_fatal(signum: int) -> Callable[[], None]:
        return lambda: session.state.finish(Result(Outcome.SIGNALLED, signal=signum))

    def on_cont() -> None:
        if not _is_raw(session.in_fd):
            resumed(session)

    handlers: dict[int, Callable[[], None]] = {
        signal.SIGINT: on_sigint,
        signal.SIGWINCH: lambda: window_changed(session),
        signal.SIGTERM: on_fatal(signal.SIGTERM),
        signal.SIGHUP: on_fatal(signal.SIGHUP),
        signal.SIGTSTP: lambda: suspend(session),
        signal.SIGCONT: on_cont,
    }
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    return list(handlers)


def suspend(session: AttachSession) -> None:
    """Give the terminal back as it was and stop; SIGCONT (`fg`) resumes."""
    if session.raw is not None:
        session.raw.leave()
    with contextlib.suppress(OSError):
        write_all(session.out_fd, b"\r\n")
    os.kill(os.getpid(), signal.SIGSTOP)


def resumed(session: AttachSession) -> None:
    """After SIGCONT: raw again, and the window's size rechecked. The screen is not redrawn
    by sending Ctrl-L: that is input, and the program running in the job decides what it
    means (bash clears the screen, a `cat` would get a form feed)."""
    if session.raw is not None:
        session.raw.enter()
    char = shown(session.options.escape_char or b"~")
    session.notice(f"resumed; Ctrl-L redraws most programs ({char}? for help)")
    window_changed(session)


def window_changed(session: AttachSession) -> None:
    """SIGWINCH: remember the new size; the prompt tracker applies it at a prompt."""
    from jobterm.term.attach import RESIZE_SETTLE

    if not session.options.resize:
        return
    size = terminal_size(session.out_fd)
    prompt = session.prompt
    setting_up = session.setup is not None and not session.setup.done  # markers may yet come
    if prompt is not None and (prompt.seen or setting_up) and not prompt.broken:
        prompt.resize(*size)
        if prompt.pending:
            session.state.later("idle", RESIZE_SETTLE, lambda: session.run_step(prompt.idle))
        return
    if size != session.size and not session.told_resize:
        session.state.later("offer", RESIZE_SETTLE, lambda: _offer_resize(session))


def _offer_resize(session: AttachSession) -> None:
    """Where no prompt marker ever came, say once (quietly) how to apply a new size."""
    session.state.timers.pop("offer", None)
    size = terminal_size(session.out_fd)
    if size == session.size or session.told_resize:
        return
    session.told_resize = True
    char = shown(session.options.escape_char or b"~")
    how = (
        f"{char}r at a shell prompt applies it"
        if session.options.escape_char
        else f"`stty rows {size[0]} cols {size[1]}` in the job applies it"
    )
    session.notice(f"this terminal is now {size[1]}x{size[0]}; {how}")


def _is_raw(fd: int) -> bool:
    try:
        lflag = termios.tcgetattr(fd)[3]
    except termios.error:
        return True  # no terminal any more: nothing to put back
    assert isinstance(lflag, int)
    return not lflag & (termios.ICANON | termios.ECHO)


def _quiet(task: asyncio.Future[None]) -> None:
    # A failed send ends the session through the pumps, which see the same error.
    if not task.cancelled():
        task.exception()
