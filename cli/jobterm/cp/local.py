"""The local side of `jobterm cp`: where a download lands, and never half of it.

A download is written to a temporary name beside its destination (same directory, so the
final `rename` is atomic) and renamed only once the checksum matched; a directory comes as a
tar stream that is kept in a temporary file, then unpacked into a temporary directory, then
renamed. `Landing.discard()` removes whatever temporary exists; callers run it on every
failure, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jobterm.cp.archive import shown, umask, unpack
from jobterm.errors import ExitCode, JobtermError, UsageError

PREFIX = ".jobterm-cp-"


def check_destination_dir(local: Path) -> Path:
    """The directory a download will be written in; refuse at once what cannot work."""
    folder = local if local.is_dir() else local.parent
    if not folder.is_dir():
        raise JobtermError(
            f"the local folder {shown(str(folder))} does not exist",
            "create it first, or give another destination",
            code=ExitCode.NO_SUCH_PATH,
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise JobtermError(
            f"cannot write in {shown(str(folder))}: permission denied",
            "give a destination you may write to",
            code=ExitCode.PERMISSION_DENIED,
        )
    return folder


def final_path(local: Path, remote_name: str) -> Path:
    """Into an existing directory under the source's name, else `local` itself (as cp)."""
    if not local.is_dir():
        return local
    if remote_name in ("", ".", "..", "/"):
        raise UsageError(
            f"{shown(str(local))} is a directory; say what to call the copy in it",
            "e.g. `jobterm cp JOB:. ./build-dir`",
        )
    return local / remote_name


@dataclass
class Landing:
    """One download's temporaries and destination (`kind` "file" or "dir")."""

    final: Path
    kind: str
    executable: bool = False
    _fd: int = -1
    _temp: Path | None = None
    _tree: Path | None = field(default=None, repr=False)

    def open(self) -> int:
        """Check the destination and create the temporary file; returns its descriptor."""
        self._check_in_the_way()
        fd, name = tempfile.mkstemp(prefix=PREFIX, dir=self.final.parent)
        self._fd, self._temp = fd, Path(name)
        return fd

    def _check_in_the_way(self) -> None:
        path = self.final
        if self.kind == "dir" and (path.exists() or path.is_symlink()):
            what = "a directory" if path.is_dir() else "not a directory"
            raise JobtermError(
                f"{shown(str(path))} already exists and is {what}; a directory comes",
                "remove it, or give another destination",
                code=ExitCode.IN_THE_WAY,
            )
        if self.kind == "file" and path.is_dir():
            raise JobtermError(
                f"{shown(str(path))} is a directory in the way of the file",
                "give the file's full destination path",
                code=ExitCode.IN_THE_WAY,
            )

    def commit(self) -> None:
        """Move the verified download into place."""
        assert self._temp is not None
        os.close(self._fd)
        self._fd = -1
        if self.kind == "file":
            mode = 0o777 if self.executable else 0o666
            os.chmod(self._temp, mode & ~umask())
            os.replace(self._temp, self.final)
            self._temp = None
            return
        self._tree = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.final.parent))
        unpack(self._temp, self._tree)
        os.chmod(self._tree, 0o777 & ~umask())
        self._check_in_the_way()  # it may have appeared meanwhile
        os.rename(self._tree, self.final)
        self._tree = None
        self.discard()

    def discard(self) -> None:
        """Remove every temporary (the destination itself is never touched)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None
        if self._tree is not None:
            _remove_tree(self._tree)
            self._tree = None


def _remove_tree(path: Path) -> None:
    def writable(func: object, name: str, _exc: object) -> None:
        # A directory unpacked without write permission (mode 555) must still go away.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            os.chmod(name, stat.S_IRWXU)
            shutil.rmtree(name) if os.path.isdir(name) else os.unlink(name)

    shutil.rmtree(path, onerror=writable)
