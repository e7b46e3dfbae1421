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
    from typing import IO

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
