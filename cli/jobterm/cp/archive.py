"""Tar archives for `jobterm cp`: packing a local directory, unpacking one from a job.

What a job sends is untrusted: it may be crafted. Nothing of an archive is written until
every member passed `check_member` (whole archive refused on the first bad one, and nothing
written: the caller unpacks into a temporary directory it removes on failure). While
unpacking, each member is checked again against the real file system (`check_target`: a
symlink written earlier must not carry a later member outside), `tarfile`'s own `data`
filter guards the extraction too where this Python has it, and the tree as it ended is
checked last (`check_tree`: every link in it leads inside), so a link that was inside when
written but leads out once a later member replaced what it goes through is caught too;
`check_order` refuses such replacing, and hard links to anything but an earlier file.

Refused, each with its own reason: absolute names; names with `..`; symbolic or hard links
that are absolute or point outside the destination; device files, fifos and sockets; files
with the setuid or setgid bit.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from pathlib import Path
from typing import IO, Any

from jobterm.errors import ExitCode, JobtermError

#: Whether this Python has tarfile's extraction filters (3.12, and 3.8.17+ backports).
HAS_FILTERS = hasattr(tarfile, "data_filter")
_FILTER_ERRORS: tuple[type[Exception], ...] = (
    (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()
)


class UnsafeArchive(JobtermError):
    exit_code = ExitCode.UNSAFE_ARCHIVE


def _refuse(member: tarfile.TarInfo, why: str) -> UnsafeArchive:
    return UnsafeArchive(
        f"refused the directory from the job: {shown(member.name)} {why}",
        "nothing was written; the job may be compromised, or copy the files one by one",
    )


def shown(name: str) -> str:
    """A name from elsewhere, quoted and with control characters escaped, for one line."""
    escaped = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
    return f"'{escaped}'"


def check_member(member: tarfile.TarInfo) -> None:
    """Refuse a member by what it says of itself (before anything is written)."""
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(member, "has an absolute name")
    if ".." in name.split("/"):
        raise _refuse(member, "climbs out with '..'")
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith("/") or (member.islnk() and ".." in target.split("/")):
            raise _refuse(member, f"is a link to {shown(target)}, outside the copy")
    elif not (member.isfile() or member.isdir()):
        raise _refuse(member, "is a device file, fifo or socket")
    if member.mode & (stat.S_ISUID | stat.S_ISGID):
        raise _refuse(member, "has the setuid or setgid bit")


def check_target(member: tarfile.TarInfo, root: Path) -> None:
    """Refuse a member whose path or link resolves outside `root` on the real file system."""
    real_root = os.path.realpath(root)

    def inside(path: str) -> bool:
        real = os.path.realpath(path)
        return real == real_root or real.startswith(real_root + os.sep)

    if not inside(os.path.join(real_root, member.name)):
        raise _refuse(member, "would be written outside the copy (through a link)")
    if member.issym():
        base = os.path.dirname(os.path.join(real_root, member.name))
        if not inside(os.path.join(base, member.linkname)):
            raise _refuse(member, f"is a link to {shown(member.linkname)}, outside the copy")
    elif member.islnk() and not inside(os.path.join(real_root, member.linkname)):
        raise _refuse(member, f"is a link to {shown(member.linkname)}, outside the copy")


def check_order(members: list[tarfile.TarInfo]) -> None:
    """Refuse what a member does to the ones before it: a hard link must name a regular file
    that came earlier (tarfile fails on anything else, itself included), and nothing may
    replace a symbolic link (the links checked before it would then lead elsewhere)."""
    kinds: dict[str, tarfile.TarInfo] = {}
    for member in members:
        name = _normal(member.name)
        earlier = kinds.get(name)
        if earlier is not None and earlier.issym():
            raise _refuse(member, f"replaces the link {shown(earlier.name)} that came before it")
        if member.islnk():
            target = kinds.get(_normal(member.linkname))
            if target is None or not target.isfile():
                raise _refuse(
                    member, f"is a hard link to {shown(member.linkname)}, not a file before it"
                )
        kinds[name] = member


def _normal(name: str) -> str:
    return posixpath.normpath(name).lstrip("/")


def check_tree(root: Path) -> None:
    """The unpacked tree as it ended: every symbolic link in it resolves inside `root`."""
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if real != real_root and not real.startswith(real_root + os.sep):
                    relative = os.path.relpath(path, root)
                    raise UnsafeArchive(
                        f"refused the directory from the job: {shown(relative)} is a link "
                        "that leads outside the copy",
                        "nothing was written; the job may be compromised, or copy the files "
                        "one by one",
                    )


def unpack(archive: Path, root: Path) -> None:
    """Unpack `archive` into the existing, empty directory `root`, or raise UnsafeArchive
    (the caller then removes `root`: it is a private temporary, renamed only on success)."""
    try:
        with tarfile.open(archive, "r:") as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member)
            check_order(members)
            for member in members:
                check_target(member, root)
                _extract(tar, member, root)
        check_tree(root)
    except tarfile.TarError as exc:
        raise UnsafeArchive(
            f"the directory from the job is not a readable tar stream ({shown(str(exc))})",
            "nothing was written; try again, or look in the job with `jobterm attach`",
        ) from None


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    if member.name in (".", "./", ""):
        return  # the root itself: its mode is set by the caller
    options: dict[str, Any] = {"filter": "data"} if HAS_FILTERS else {}
    if not HAS_FILTERS:
        _like_data_filter(member)
    try:
        tar.extract(member, root, **options)
    except _FILTER_ERRORS as exc:  # the second guard caught what the first did not
        raise _refuse(member, f"was refused by tarfile ({exc.__class__.__name__})") from None


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _like_data_filter(member: tarfile.TarInfo) -> None:
    """What the data filter does to owners and modes, for a Python without it. Owners are
    ours, not the job's. A directory gets the default mode: one extracted with its own
    (say 555, as Go's module cache has) would refuse the files still to come into it. A file
    keeps at most rwxr-xr-x, and its owner may always read and write it."""
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    if member.isdir():
        member.mode = 0o777 & ~umask()
    elif member.isreg() or member.islnk():
        mode = member.mode & 0o755
        member.mode = (mode if mode & 0o100 else mode & ~0o111) | 0o600


def pack(source: Path, out: IO[bytes]) -> None:
    """Write `source` (a directory) to `out` as a tar stream of `.`; links stay links."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(source, arcname=".", recursive=True, filter=_no_owner)


def _no_owner(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Our user's names and ids mean nothing in the job; a job running as root would give
    the files to them (tar keeps owners for root). Owner 0 is the job's own user there."""
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member
