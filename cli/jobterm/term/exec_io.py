"""Local byte streams for `jobterm exec`: stdout/stderr writers and a stdin reader.

Both sides run their blocking system calls in a daemon thread and talk to the event loop
through futures, because:

* a slow reader of our stdout (a pager, `| sleep 100`) must slow the session down
  (backpressure: at most `limit` bytes wait) without freezing the loop, which still has to
  answer signals, timeouts and pings;
* a read from stdin cannot be cancelled, and a thread blocked in it must not keep the
  process alive when the command has ended (`sleep 100 | jobterm exec …` exits at once);
* neither side sets O_NONBLOCK on a file descriptor it shares with other processes (the
  user's shell, the other end of a pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import threading
from collections import deque
from typing import Protocol

from jobterm.term.tty import write_all

READ_SIZE = 64 * 1024


class Sink(Protocol):
    """Where output goes: `write` may wait (backpressure), `drain` waits for all of it."""

    async def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def close(self) -> None: ...


class Source(Protocol):
    """Where input comes from: `read` returns b"" at the end."""

    async def read(self) -> bytes: ...


def _resolve(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


class OutputSink:
    """Writes bytes to `fd` in order from a worker thread; `write` waits only when behind."""

    def __init__(self, fd: int, limit: int = 1 << 20) -> None:
        self._fd = fd
        # Writes to a regular file never wait for a reader: no thread needed.
        self._direct = _is_regular_file(fd)
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._pending = 0  # bytes queued or being written
        self._closed = False
        self._error: OSError | None = None
        self._space: asyncio.Future[None] | None = None
        self._idle: asyncio.Future[None] | None = None
        if not self._direct:
            thread = threading.Thread(target=self._run, name=f"jobterm-fd{fd}", daemon=True)
            thread.start()

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._direct:
            write_all(self._fd, data)
            return
        with self._cond:
            self._raise_error()
            self._chunks.append(data)
            self._pending += len(data)
            self._cond.notify()
            waiter = None
            if self._pending > self._limit:
                waiter = self._space = self._loop.create_future()
        if waiter is not None:
            await waiter
            with self._cond:
                self._raise_error()

    async def drain(self) -> None:
        """Wait until every byte handed to `write` is written (or writing failed)."""
        with self._cond:
            if self._pending == 0 or self._error is not None:
                self._raise_error()
                return
            waiter = self._idle = self._loop.create_future()
        await waiter
        with self._cond:
            self._raise_error()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._chunks and not self._closed:
                    self._cond.wait()
                if not self._chunks:
                    return
                data = b"".join(self._chunks)
                self._chunks.clear()
            try:
                write_all(self._fd, data)
            except OSError as exc:
                with self._cond:
                    self._error = exc
                    self._wake(self._space, self._idle)
                return
            with self._cond:
                self._pending -= len(data)
                space = idle = None
                if self._pending <= self._limit:
                    space, self._space = self._space, None
                if self._pending == 0:
                    idle, self._idle = self._idle, None
                self._wake(space, idle)

    def _wake(self, *futures: asyncio.Future[None] | None) -> None:
        for fut in futures:
            if fut is not None:
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    self._loop.call_soon_threadsafe(_resolve, fut)


def _is_regular_file(fd: int) -> bool:
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


class InputSource:
    """Reads `fd` in a daemon thread, at most `depth` chunks ahead; b"" means end of input."""

    def __init__(self, fd: int, depth: int = 4) -> None:
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | OSError] = asyncio.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="jobterm-stdin", daemon=True)
        self._thread.start()

    async def read(self) -> bytes:
        item = await self._queue.get()
        if isinstance(item, OSError):
            raise item
        return item

    def _put(self, item: bytes | OSError) -> bool:
        coro = self._queue.put(item)
        try:
            asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        except (Exception, asyncio.CancelledError):
            coro.close()  # the loop is gone: the run is over
            return False
        return True

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self._fd, READ_SIZE)
            except OSError as exc:
                self._put(exc)
                return
            if not self._put(data) or not data:
                return
