"""Every file jobterm writes goes through here: private modes, atomic replace, locked updates.

* Files are created 0600 and directories 0700 whatever the umask (`os.open` with an explicit
  mode, then `fchmod`, since a umask can only narrow a mode and an old file keeps its own).
* `write_private` replaces a file atomically (a temporary file beside it, fsync, rename): a
  reader sees the old text or the new, never half of it.
* `Locked(path)` holds an exclusive `fcntl.flock` on `<path>.lock` beside the file, so a
  read-modify-write by one jobterm process cannot interleave with another's (three `jobterm
  login` runs in parallel must keep all three hosts). The lock file is never removed:
  removing it would let two processes hold locks on two different files.
* `read_text` decodes UTF-8 and says which line holds a byte that is not.

Shell completion writes its cache through here too, so this module imports only os, stat
and fcntl (no pathlib, typing or contextlib): paths are `str` or `os.PathLike`.
"""

from __future__ import annotations

import fcntl
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    PathLike = str | os.PathLike[str]

FILE_MODE = 0o600
DIR_MODE = 0o700


class BadText(ValueError):
    """A file's bytes are not UTF-8: where (1-based line and column) and what."""

    def __init__(self, line: int, column: int, reason: str) -> None:
        super().__init__(f"line {line}, column {column}: {reason}")
        self.line = line
        self.column = column


def decode_utf8(data: bytes) -> str:
    """`data` as text; BadText naming the line of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise BadText(line, column, f"byte 0x{byte} is not UTF-8 text") from None


def read_text(path: PathLike) -> str:
    """The UTF-8 text of `path` (OSError, or BadText with the line, as they come)."""
    with open(path, "rb") as handle:
        return decode_utf8(handle.read())


#: The most jobterm reads back of a file of its own (its config, caches, facts).
READ_BACK_LIMIT = 4 * 1024 * 1024


class Distrusted(OSError):
    """A file of jobterm's own that it will not read back; `strerror` says why."""


def read_back(path: PathLike, limit: int = READ_BACK_LIMIT) -> bytes:
    """The bytes of a file jobterm wrote for itself, read only if it is still that: a regular
    file (never waiting on a FIFO or a device), not reached through a symbolic link, the
    user's own, that no one else may write, in a folder no one else may write into (unless
    sticky), and at most `limit` bytes. Else Distrusted, an OSError: callers treat it as a
    file they cannot read (a cache is ignored, the config is refused)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    name = os.fspath(path)
    fd = os.open(name, flags)
    try:
        why = _distrust(os.fstat(fd), os.path.dirname(os.path.abspath(name)), limit)
        if why:
            raise Distrusted(1, why, name)
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            if total > limit:
                raise Distrusted(27, f"larger than {limit} bytes", name)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _distrust(info: os.stat_result, folder: str, limit: int) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != os.getuid():
        return "owned by another user"
    if info.st_mode & 0o022:
        return "writable by others"
    if info.st_size > limit:
        return f"larger than {limit} bytes"
    try:
        where = os.stat(folder)
    except OSError:
        return "its folder cannot be checked"
    # Someone else's folder that anyone may write into, not sticky: a file there can be
    # swapped between two runs. (In the user's own such folder a swapped file is no longer
    # theirs, which the owner check above catches: a umask of 000 stays workable.)
    shared = where.st_mode & 0o002 and not where.st_mode & stat.S_ISVTX
    if shared and where.st_uid != os.getuid():
        return "in someone else's folder that anyone may write into"
    return None


def load_json(data: bytes | str) -> Any:
    """JSON, with nesting too deep for the parser a ValueError like any other damage."""
    import json

    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def private_dir(path: PathLike) -> None:
    """Create `path` and its missing parents with mode 0700 (whatever the umask); existing
    directories are left as they are (they are the user's)."""
    path = os.path.abspath(os.fspath(path))
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue  # a parallel jobterm made it
        os.chmod(directory, DIR_MODE)  # mkdir's mode went through the umask


def open_private(path: PathLike) -> IO[str]:
    """A new (or truncated) text file at `path` for writing, mode 0600. Its directory must
    exist (it is the user's choice). A device or pipe (`/dev/stdout`) is opened as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, FILE_MODE)  # an old file keeps its mode through O_TRUNC
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: PathLike, data: str | bytes) -> None:
    """Replace `path` atomically with `data`, readable by its owner only (OSError as is)."""
    path = os.fspath(path)
    directory, name = os.path.split(path)
    private_dir(directory or ".")
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, FILE_MODE)
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(fd)
    except BaseException:
        try:  # noqa: SIM105 - contextlib would cost an import on every Tab
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.replace(tmp, path)


class Locked:
    """`with Locked(path):` holds the exclusive lock of `path` (on `<path>.lock`) for a
    read-modify-write. Closing the lock file releases it, also when the process dies."""

    def __init__(self, path: PathLike) -> None:
        self.lock_path = os.fspath(path) + ".lock"
        self.fd = -1

    def __enter__(self) -> None:
        private_dir(os.path.dirname(self.lock_path) or ".")
        self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
