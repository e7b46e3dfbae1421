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
import signal
import termios
from collections.abc import Callable
from typing import TYPE_CHECKING

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
            session.resumed()

    handlers: dict[int, Callable[[], None]] = {
        signal.SIGINT: on_sigint,
        signal.SIGWINCH: session.window_changed,
        signal.SIGTERM: on_fatal(signal.SIGTERM),
        signal.SIGHUP: on_fatal(signal.SIGHUP),
        signal.SIGTSTP: session.suspend,
        signal.SIGCONT: on_cont,
    }
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    return list(handlers)


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
