"""Shells in real pseudo-terminals, as a GitLab Runner's session server starts them.

Each `PtyShell` is one process (the job's shell) on the slave side of a fresh PTY: a new
session with the slave as its controlling terminal, stdin/stdout/stderr on the slave, the
window size left at 0 rows x 0 cols (what the Runner does: `stty size` prints `0 0`).

Theory of operation of the I/O side (one PTY master fd, non-blocking, in the event loop):

* Reading: the loop's reader callback moves bytes from the master into a bounded buffer.
  When the buffer holds `buffer_limit` bytes the callback is removed (the PTY then fills up
  and the shell blocks in write(2)); `read()` takes bytes out and re-adds the callback.
  Memory stays bounded and nothing is dropped.
* End of output: EIO from the master (every slave fd closed), or the shell process exited
  and a final non-blocking read finds nothing more. `read()` then returns b"".
* Writing: `write()` writes what the master takes and waits for writability for the rest,
  one writer at a time, so a slow shell slows the WebSocket reader down instead of queueing.
* Closing: SIGHUP then SIGKILL to every process of the shell's session (background jobs of
  an interactive shell live in their own process groups), the process reaped, the master
  closed. `ShellPool.close_all()` does that for every shell it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import secrets
import signal
import struct
import termios
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from jobterm.aio import within

DEFAULT_ARGV: tuple[str, ...] = ("bash", "-l")
READ_CHUNK = 16 * 1024
BUFFER_LIMIT = 64 * 1024
KILL_GRACE = 0.5  # seconds between SIGHUP and SIGKILL


def _become_session_leader_with_ctty() -> None:
    # Runs in the child between fork and exec: a new session, and the PTY slave (already
    # dup'ed to fd 0) as its controlling terminal, so job control and ^C work in the shell.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


# Every shell's session carries an environment entry of its own, `SESSION_MARK=<random>`.
# A session id is only the pid of the shell that began it, and pids are reused (pid_max is
# 32768 on many machines, and a busy one wraps it in minutes): once the shell is reaped,
# killpg() on that number can hit an unrelated process group, such as the test run itself.
# So a session is signalled member by member, and only the members that carry its mark.
SESSION_MARK = "JOBTERM_SANDBOX_SESSION"


def new_session_mark() -> str:
    return secrets.token_hex(8)


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces and parentheses).
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[3]) if len(fields) > 3 else None


def _marked(entry: bytes, sid: int | None = None) -> list[int]:
    """Pids (not ours) whose environment holds `entry` ("NAME=value"; Linux /proc), in
    session `sid` if one is given."""
    return [
        pid
        for pid, environ in _proc_files("environ")
        if pid != os.getpid()
        and entry in environ.split(b"\0")
        and (sid is None or _session_of(pid) == sid)
    ]


def _proc_files(name: str) -> Iterator[tuple[int, bytes]]:
    """(pid, contents of /proc/<pid>/<name>) of every process we may read; none without
    /proc. A process that ends while we look is skipped."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / name).read_bytes()
            except OSError:
                continue


def signal_marked_session(sid: int, mark: str, signum: int) -> None:
    """Signal the processes of session `sid` that carry `SESSION_MARK=mark`; no others."""
    for pid in _marked(f"{SESSION_MARK}={mark}".encode(), sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


class PtyShell:
    """One shell in a PTY. Start it with `PtyShell.start(...)` (or `ShellPool.start`)."""

    def __init__(
        self, process: asyncio.subprocess.Process, master: int, buffer_limit: int, mark: str
    ) -> None:
        self.process = process
        self.mark = mark  # see SESSION_MARK
        self.pid = process.pid
        self._master = master
        self._loop = asyncio.get_running_loop()
        self._limit = buffer_limit
        self._buffer = bytearray()
        self._eof = False
        self._exited = False
        self._closed = False
        self._reading = False
        self._data_ready = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._resume_reading()
        self._waiter = self._loop.create_task(self._watch_exit())

    @classmethod
    async def start(
        cls,
        argv: Sequence[str] = DEFAULT_ARGV,
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str],
        buffer_limit: int = BUFFER_LIMIT,
    ) -> PtyShell:
        mark = new_session_mark()
        master, slave = os.openpty()
        try:
            # 0 x 0, explicitly: that is what the Runner's PTY starts with.
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
            os.set_blocking(master, False)
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env={**env, SESSION_MARK: mark},
                close_fds=True,
                preexec_fn=_become_session_leader_with_ctty,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            # The parent must not keep the slave: EIO on the master means "all gone".
            os.close(slave)
        return cls(process, master, buffer_limit, mark)

    # -- reading ---------------------------------------------------------------------------

    def _resume_reading(self) -> None:
        if not self._reading and not self._eof and not self._closed:
            self._loop.add_reader(self._master, self._on_readable)
            self._reading = True

    def _pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._master)
            self._reading = False

    def _on_readable(self) -> None:
        # The PTY hands out at most ~4 KiB per read(2): take what is there, up to a chunk, so
        # the WebSocket gets fewer, larger frames.
        taken = 0
        while taken < READ_CHUNK and len(self._buffer) < self._limit:
            try:
                data = os.read(self._master, min(READ_CHUNK, self._limit - len(self._buffer)))
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                data = b""  # Linux: every slave fd is closed
            if not data:
                self._eof = True
                self._pause_reading()
                break
            self._buffer += data
            taken += len(data)
        if len(self._buffer) >= self._limit:
            self._pause_reading()  # backpressure: the PTY fills up, the shell blocks
        self._data_ready.set()

    def _drain_after_exit(self) -> None:
        # The shell is gone; whatever it wrote is already in the PTY. Take what fits.
        if self._eof or self._closed or len(self._buffer) >= self._limit:
            return
        try:
            data = os.read(self._master, self._limit - len(self._buffer))
        except (BlockingIOError, OSError):
            data = b""
        if data:
            self._buffer += data
        else:
            self._eof = True
            self._pause_reading()

    async def read(self) -> bytes:
        """Up to READ_CHUNK bytes of output; b"" when the shell has ended and all is read."""
        while not self._buffer:
            if self._exited:
                self._drain_after_exit()
            if self._buffer or self._eof or self._closed:
                break
            self._data_ready.clear()
            await self._data_ready.wait()
        data = bytes(self._buffer[:READ_CHUNK])
        del self._buffer[:READ_CHUNK]
        if self._exited and not self._buffer:
            self._drain_after_exit()
        self._resume_reading()
        return data

    async def _watch_exit(self) -> None:
        await self.process.wait()
        self._exited = True
        self._data_ready.set()

    @property
    def buffered(self) -> int:
        """Bytes read from the PTY and not yet taken by `read()` (at most buffer_limit)."""
        return len(self._buffer)

    @property
    def exited(self) -> bool:
        return self._exited

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    # -- writing ---------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Write all of `data` to the shell, waiting while the PTY's input queue is full.

        Raises ConnectionResetError once the shell is closed.
        """
        async with self._write_lock:
            view = memoryview(data)
            while view:
                if self._closed:
                    raise ConnectionResetError("shell closed")
                try:
                    written = os.write(self._master, view)
                except BlockingIOError:
                    await self._writable()
                    continue
                except OSError as exc:
                    raise ConnectionResetError(f"shell input closed: {exc}") from exc
                view = view[written:]

    async def _writable(self) -> None:
        ready: asyncio.Future[None] = self._loop.create_future()

        def on_writable() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(self._master, on_writable)
        try:
            # Poll the closed flag too: close() cannot wake a writer it does not know of.
            with contextlib.suppress(asyncio.TimeoutError):
                await within(asyncio.shield(ready), 0.2)
        finally:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_writer(self._master)

    # -- ending ----------------------------------------------------------------------------

    async def wait(self) -> int:
        return await self.process.wait()

    async def close(self) -> None:
        """Kill the shell's whole session, reap the shell, close the master. Idempotent."""
        if self._closed:
            await asyncio.shield(self._waiter)
            return
        self._closed = True
        self._pause_reading()
        if not self._exited:
            signal_marked_session(self.pid, self.mark, signal.SIGHUP)
            signal_marked_session(self.pid, self.mark, signal.SIGCONT)
            with contextlib.suppress(asyncio.TimeoutError):
                await within(asyncio.shield(self._waiter), KILL_GRACE)
        # Background jobs may outlive the shell: kill the rest of the session as well.
        signal_marked_session(self.pid, self.mark, signal.SIGKILL)
        await asyncio.shield(self._waiter)
        with contextlib.suppress(OSError):
            os.close(self._master)
        self._eof = True
        self._data_ready.set()

    @property
    def closed(self) -> bool:
        return self._closed


class ShellPool:
    """Every shell the sandbox started, so that it can kill them all when it stops.

    `mark`: an environment entry ("HOME=/tmp/...") every shell of the pool gets and no other
    process has. Daemons that left the shell's session and parent (setsid, as ssh-agent
    does) still carry it, so `close_all()` finds and kills them too."""

    def __init__(self, buffer_limit: int = BUFFER_LIMIT, mark: str | None = None) -> None:
        self._shells: set[PtyShell] = set()
        self.buffer_limit = buffer_limit
        self.mark = mark

    async def start(
        self,
        argv: Sequence[str] = DEFAULT_ARGV,
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str],
    ) -> PtyShell:
        shell = await PtyShell.start(argv, cwd=cwd, env=env, buffer_limit=self.buffer_limit)
        self._shells.add(shell)
        return shell

    async def release(self, shell: PtyShell) -> None:
        """Close one shell and forget it."""
        await shell.close()
        self._shells.discard(shell)

    async def close_all(self) -> None:
        shells = list(self._shells)
        self._shells.clear()
        await asyncio.gather(*(shell.close() for shell in shells), return_exceptions=True)
        for pid in _marked(self.mark.encode()) if self.mark else []:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def __len__(self) -> int:
        return len(self._shells)

    @property
    def pids(self) -> list[int]:
        return [shell.pid for shell in self._shells]
