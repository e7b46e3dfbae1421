"""`jobterm cp` over exec: run the remote program, stream its bytes, verify, put in place.

The exec machinery (`jobterm.term.exec`) does the session; this module gives it other ends
than our stdio: for a download, a sink that splits the header from the payload
(`core.cpscript.GetStream`), writes the payload to the temporary file and checksums it on
the way; for an upload, a source that reads the file (or the packed directory) and counts
for the progress bar. The remote program's exit status says what went wrong in the job
(`RemoteStatus`); the checksums, compared on both sides, say whether what arrived is what
was sent.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from jobterm.core.cpscript import (
    BadStream,
    Checksum,
    GetStream,
    Header,
    RemoteStatus,
    Sums,
    get_argv,
    parse_sum,
    put_argv,
)
from jobterm.core.execproto import ExecSpec, StdinMode, Stream
from jobterm.core.execrun import ExecOptions
from jobterm.cp.archive import pack, shown
from jobterm.cp.failures import garbled, mismatch, remote_failure
from jobterm.cp.local import Landing, final_path
from jobterm.errors import ExitCode, JobtermError
from jobterm.term.connection import TerminalTarget
from jobterm.term.exec import Streams, exec_session
from jobterm.term.exec_io import Sink, Source
from jobterm.term.tty import write_all

log = logging.getLogger("jobterm.cp")

READ_SIZE = 64 * 1024
#: A download's payload is written and hashed in batches of this many bytes or, when it
#: comes slower, of what came in this many seconds (so the progress bar still moves).
FLUSH_SIZE = 1 << 20
FLUSH_SECONDS = 0.1
#: Most bytes kept of the remote program's own short answers: the last ones, since its
#: checksum line comes last and a tool's warnings may come before it.
ANSWER_LIMIT = 4096

Progress = Callable[[int, int | None], None]  # (bytes so far, total if known)


@dataclass
class Outcome:
    """What a finished copy reports under -v."""

    algorithm: str
    checksum: str
    size: int
    destination: str


class _Answer:
    """A sink that keeps the last `ANSWER_LIMIT` bytes (they end with the checksum line)."""

    def __init__(self) -> None:
        self.data = b""

    async def write(self, data: bytes) -> None:
        self.data = (self.data + data)[-ANSWER_LIMIT:]

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Receiver(_Answer):
    """The download's stdout: header, then payload into the landing's temporary file.

    The payload arrives in WebSocket messages of at most 16 KiB; it is written, hashed and
    reported in batches (`FLUSH_SIZE`, or what came in `FLUSH_SECONDS`), since a write(2),
    a hash call and a progress update per message cost more than the bytes themselves.
    """

    def __init__(self, local: Path, remote_name: str, progress: Progress) -> None:
        super().__init__()
        self._local = local
        self._name = remote_name
        self._progress = progress
        self._stream = GetStream()
        self.checksum: Checksum | None = None
        self.landing: Landing | None = None
        self._fd = -1
        self._total = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._flushed_at = 0.0

    async def write(self, data: bytes) -> None:
        try:
            pieces = self._stream.feed(data)
        except BadStream as exc:
            raise garbled(str(exc)) from None
        for piece in pieces:
            if isinstance(piece, Header):
                self._land(piece)
            else:
                self._pending.append(piece)
                self._pending_size += len(piece)
        if self._pending_size >= FLUSH_SIZE or (
            self._pending and time.monotonic() - self._flushed_at >= FLUSH_SECONDS
        ):
            self._flush()

    async def drain(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        assert self.checksum is not None
        batch = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        write_all(self._fd, batch)
        self.checksum.update(batch)
        self._progress(self.checksum.size, self._total)
        self._flushed_at = time.monotonic()

    def _land(self, header: Header) -> None:
        final = final_path(self._local, self._name)
        self.landing = Landing(final, header.kind, executable=header.executable)
        self.checksum = Checksum((header.algorithm,))
        self._total = header.size
        self._fd = self.landing.open()
        self._flushed_at = 0.0  # the first bytes go out at once (and the bar shows up)


class _Download(Streams):
    def __init__(self, receiver: _Receiver, trailer: _Answer) -> None:
        super().__init__(-1, -1, -1)
        self._ends = {Stream.STDOUT: receiver, Stream.STDERR: trailer}

    def sink(self, stream: Stream) -> Sink:
        return self._ends[stream]

    def stdin_is_tty(self) -> bool:
        return False


class _FileSource:
    """Reads an open file for the upload, reporting progress."""

    def __init__(self, file: IO[bytes], total: int, progress: Progress) -> None:
        self._file = file
        self._total = total
        self._sent = 0
        self._progress = progress

    async def read(self) -> bytes:
        data = await asyncio.to_thread(self._file.read, READ_SIZE)
        self._sent += len(data)
        self._progress(self._sent, self._total)
        return data


class _Upload(Streams):
    def __init__(self, source: _FileSource, answer: _Answer) -> None:
        super().__init__(-1, -1, -1)
        self._source = source
        self._answer = answer

    def sink(self, stream: Stream) -> Sink:
        return self._answer

    def source(self) -> Source:
        return self._source

    def stdin_is_tty(self) -> bool:
        return False


# ---------------------------------------------------------------- download


async def download(
    target: TerminalTarget,
    remote: bytes,
    local: Path,
    progress: Progress,
    base: bytes | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Copy `remote` (a file or directory in the job; relative: to the build directory, or
    to `base` where the shell has no $CI_PROJECT_DIR) to `local` within `timeout` seconds
    (None: no bound but the set-up's); raise on any failure."""
    name = os.fsdecode(remote.rstrip(b"/").rsplit(b"/", 1)[-1] or remote)
    receiver = _Receiver(local, name, progress)
    trailer = _Answer()
    spec = ExecSpec(get_argv(remote, base), stdin=StdinMode.NULL, stderr_apart=True)
    try:
        sink = _Download(receiver, trailer)
        status = await exec_session(target, spec, sink, ExecOptions(timeout=timeout))
        if status != RemoteStatus.OK:
            raise remote_failure(status, remote, upload=False)
        landing, checksum = receiver.landing, receiver.checksum
        if landing is None or checksum is None:
            raise garbled("no header")
        algorithm, theirs = _their_sum(trailer.data)
        if not checksum.has(algorithm):
            raise garbled(f"a {algorithm} checksum, where the job announced another")
        ours = checksum.value(algorithm)
        if ours != theirs:
            raise mismatch(algorithm, ours, theirs)
        log.debug("download verified: %s %s, %d bytes", algorithm, ours, checksum.size)
        landing.commit()
        return Outcome(algorithm, ours, checksum.size, shown(str(landing.final)))
    finally:
        if receiver.landing is not None:
            receiver.landing.discard()


def _their_sum(answer: bytes) -> tuple[str, str]:
    lines = answer.strip(b"\r\n").split(b"\n")
    parsed = parse_sum(lines[-1]) if lines else None
    if parsed is None:
        raise garbled(f"checksum line {answer[-80:]!r}")
    return parsed


# ---------------------------------------------------------------- upload


@dataclass
class Payload:
    """What an upload sends, read and checksummed before connecting."""

    file: IO[bytes]  # the file itself, or the packed directory (the caller closes it)
    kind: str  # "file" or "dir"
    name: bytes  # the copy's name, if it goes into a directory in the job
    mode: int
    sums: Sums
    size: int


def read_payload(local: Path) -> Payload:
    """Pack (a directory) and checksum `local`; a part that cannot be read is said here,
    before any connection, as a reading error (not as the copy's writing failing)."""
    kind = "dir" if local.is_dir() else "file"
    # The name as given (a link keeps its own name, as with cp -r); `.` and `..` have
    # none, so theirs is the folder's.
    name = os.fsencode(local.name if local.name not in ("", "..") else local.resolve().name)
    try:
        file = _payload(local, kind)
    except OSError as exc:
        raise _unreadable(exc, local) from None
    checksum = Checksum()
    try:
        for chunk in iter(lambda: file.read(READ_SIZE), b""):
            checksum.update(chunk)
        file.seek(0)
    except OSError as exc:
        file.close()
        raise _unreadable(exc, local) from None
    mode = local.stat().st_mode
    return Payload(file, kind, name, mode, checksum.sums(), checksum.size)


def _unreadable(exc: OSError, local: Path) -> JobtermError:
    where = shown(os.fsdecode(exc.filename) if exc.filename else str(local))
    denied = exc.errno in (errno.EACCES, errno.EPERM)
    return JobtermError(
        f"reading {where} here failed: {exc.strerror or exc}",
        "nothing was sent; " + ("you may not read it" if denied else "check the file"),
        code=ExitCode.PERMISSION_DENIED if denied else ExitCode.COPY_FAILED,
    )


async def upload(
    target: TerminalTarget,
    payload: Payload,
    remote: bytes,
    progress: Progress,
    base: bytes | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Copy the payload to `remote` in the job (`base` and `timeout` as for download); raise
    on any failure."""
    answer = _Answer()
    source = _FileSource(payload.file, payload.size, progress)
    argv = put_argv(remote, payload.kind, payload.name, payload.mode, payload.sums, base)
    spec = ExecSpec(argv, stdin=StdinMode.PIPE)
    status = await exec_session(target, spec, _Upload(source, answer), ExecOptions(timeout))
    if status != RemoteStatus.OK:
        raise remote_failure(status, remote, upload=True, name=payload.name)
    algorithm, theirs = _their_sum(answer.data)
    ours = payload.sums.get(algorithm)
    if ours != theirs:
        raise mismatch(algorithm, ours, theirs)
    log.debug("upload verified: %s %s, %d bytes", algorithm, theirs, payload.size)
    return Outcome(algorithm, theirs, payload.size, shown(os.fsdecode(remote)))


def _payload(local: Path, kind: str) -> IO[bytes]:
    if kind == "file":
        return open(local, "rb")
    spool = tempfile.TemporaryFile(prefix="jobterm-cp-")  # noqa: SIM115 - the caller closes it
    pack(local.resolve(), spool)  # a link to a directory: its contents, as cp -r does
    spool.seek(0)
    return spool
