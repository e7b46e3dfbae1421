"""A process on the slave side of a fresh pseudo-terminal, driven from the master side.

The benchmark is the terminal emulator: it writes what a user types to the master and reads
what the program shows from it. No pexpect here: its regex matching over a growing buffer
would add its own latency to the keystroke figures. Everything is plain `os.read`/`os.write`
with `select`, and every wait is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

READ = 1 << 16


class PtyTimeout(Exception):
    """What we waited for did not come in time."""


def _become_session_leader_with_ctty() -> None:
    # Runs in the child between fork and exec: the slave (already fd 0) becomes the
    # controlling terminal, as login(1) or sshd would arrange.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProcess:
    """`argv` running on a new PTY of `rows` x `cols`; the master is ours."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        rows: int = 50,
        cols: int = 200,
        cwd: str | None = None,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            preexec_fn=_become_session_leader_with_ctty,
            close_fds=True,
        )
        os.close(slave)
        self.fd = master
        os.set_blocking(master, False)
        self.buffer = bytearray()  # what was read but not consumed by an expect()
        self.rusage_maxrss_kb: int | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 30
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PtyTimeout("the program stopped reading its terminal") from None
                select.select([], [self.fd], [], 0.05)

    # -- reading ---------------------------------------------------------------------------

    def read_some(self, timeout: float) -> bytes:
        """Whatever arrives within `timeout` (b"" if nothing); EOF raises EOFError."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, READ)
        except BlockingIOError:
            return b""
        except OSError:  # EIO: every slave fd closed, the program is gone
            raise EOFError from None
        if not data:
            raise EOFError
        return data

    def expect(self, needle: bytes, timeout: float = 20.0) -> bytes:
        """Read until `needle` is seen; return everything up to and including it."""
        deadline = time.monotonic() + timeout
        while True:
            index = self.buffer.find(needle)
            if index >= 0:
                end = index + len(needle)
                head = bytes(self.buffer[:end])
                del self.buffer[:end]
                return head
            left = deadline - time.monotonic()
            if left <= 0:
                tail = bytes(self.buffer[-300:])
                raise PtyTimeout(f"waited {timeout:.0f}s for {needle!r}; last output {tail!r}")
            try:
                self.buffer += self.read_some(min(left, 0.5))
            except EOFError:
                raise PtyTimeout(
                    f"the program ended before {needle!r}: {bytes(self.buffer[-300:])!r}"
                ) from None

    def drain(self, quiet: float = 0.05, limit: float = 5.0) -> bytes:
        """Read until nothing arrives for `quiet` seconds."""
        got = bytearray(self.buffer)
        self.buffer.clear()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                data = self.read_some(quiet)
            except EOFError:
                break
            if not data:
                break
            got += data
        return bytes(got)

    def sink_until(self, marker: bytes, timeout: float) -> int:
        """Read and count bytes (not kept) until `marker`; returns how many came before it."""
        deadline = time.monotonic() + timeout
        count = 0
        tail = bytes(self.buffer)
        self.buffer.clear()
        keep = len(marker) - 1
        fd = self.fd
        while True:
            index = tail.find(marker)
            if index >= 0:
                self.buffer += tail[index + len(marker) :]
                return count + index
            count += max(0, len(tail) - keep)
            tail = tail[-keep:] if keep else b""
            left = deadline - time.monotonic()
            if left <= 0:
                raise PtyTimeout(f"no {marker!r} after {count} bytes")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(fd, READ)
                except BlockingIOError:
                    continue
                except OSError:
                    shown = tail[-300:].decode("utf-8", "replace").replace("\0", "")
                    raise PtyTimeout(
                        f"EOF after {count} bytes, before {marker!r}: {shown!r}"
                    ) from None
                tail += data

    # -- the process -----------------------------------------------------------------------

    def vm_hwm_kb(self) -> int | None:
        """Peak resident set size so far (VmHWM), in KiB."""
        return _status_kb(self.pid, "VmHWM")

    def vm_rss_kb(self) -> int | None:
        return _status_kb(self.pid, "VmRSS")

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the program to end (draining its output); return its exit status."""
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.rusage_maxrss_kb = usage.ru_maxrss
                self.proc.returncode = self.returncode
                break
            if time.monotonic() > deadline:
                raise PtyTimeout("the program did not end")
            with contextlib.suppress(EOFError):
                self.buffer += self.read_some(0.05)
        return self.returncode

    def close(self) -> None:
        if self.returncode is None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.wait(5)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _status_kb(pid: int, key: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None
