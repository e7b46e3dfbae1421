"""The local terminal: raw mode that is always restored, its size, and writing to it.

Raw mode is a context manager (as asciinema has it); it restores the saved attributes on
every way out, including exceptions and signals turned into exceptions. An `atexit` hook is a
second line of defence for a hard `sys.exit` from elsewhere. TCSADRAIN (not TCSAFLUSH) is used
when restoring so that anything typed after the session ended reaches the local shell rather
than being thrown away.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import termios
import tty
from collections.abc import Iterator

Attrs = list[int | list[bytes | int]]


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on `fd`; (0, 0) when it has none."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return (0, 0)
    return (size.lines, size.columns)


class _Restorer:
    def __init__(self, fd: int, attrs: Attrs) -> None:
        self.fd = fd
        self.attrs = attrs
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.attrs)


class RawTerminal:
    """Raw mode that can be left and entered again (a suspended session gives the terminal
    back to the user's shell in the state it found it, and takes it again on resume).

    While raw, jobterm's own log lines end in CRLF (raw mode does no output translation)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: Attrs = termios.tcgetattr(fd)
        self._restore: _Restorer | None = None

    @property
    def active(self) -> bool:
        return self._restore is not None

    def enter(self) -> None:
        from jobterm.log import set_raw_terminal

        if self._restore is None:
            self._restore = _Restorer(self.fd, self.saved)
            atexit.register(self._restore)
        tty.setraw(self.fd, termios.TCSADRAIN)
        set_raw_terminal(True)

    def leave(self) -> None:
        from jobterm.log import set_raw_terminal

        restore, self._restore = self._restore, None
        if restore is not None:
            restore()
            atexit.unregister(restore)
        set_raw_terminal(False)


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[RawTerminal]:
    """Put the terminal on `fd` in raw mode for the duration of the block."""
    raw = RawTerminal(fd)
    try:
        raw.enter()
        yield raw
    finally:
        raw.leave()


def write_all(fd: int, data: bytes) -> None:
    """Write every byte, waiting while the terminal is slow (blocking: this is backpressure)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [])
            continue
        view = view[written:]


async def read_when_ready(fd: int, size: int = 65536) -> bytes:
    """The next bytes of `fd`, read once the event loop sees it readable (b"" at its end)."""
    import asyncio

    loop = asyncio.get_running_loop()
    while True:
        ready: asyncio.Future[None] = loop.create_future()

        def wake(ready: asyncio.Future[None] = ready) -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            return os.read(fd, size)
        except BlockingIOError:
            continue  # another reader took the bytes first: wait again
