"""What went wrong in a copy, as one line each with cp's exit codes (README's table).

The remote programs report by exit status (`core.cpscript.RemoteStatus`); the rest is what
jobterm finds itself: a garbled answer, a checksum that differs.
"""

from __future__ import annotations

import os

from jobterm.core.cpscript import RemoteStatus
from jobterm.cp.archive import shown
from jobterm.errors import ExitCode, JobtermError

_LOOK = "look in the job with `jobterm attach`, or run with --debug"


def garbled(what: str) -> JobtermError:
    return JobtermError(
        f"the job's answer to the copy is garbled ({what})", _LOOK, code=ExitCode.COPY_FAILED
    )


def mismatch(algorithm: str, ours: str, theirs: str) -> JobtermError:
    return JobtermError(
        f"the {algorithm} checksum differs on the two sides ({ours} here, {theirs} in the job)",
        "nothing was put in place; try again",
        code=ExitCode.CHECKSUM_MISMATCH,
    )


#: status -> (message, hint, exit code); {path} is the path in the job, {verb} read/write.
_REMOTE: dict[int, tuple[str, str, ExitCode]] = {
    RemoteStatus.DENIED: (
        "{path}: permission denied in the job",
        "the job's user may not {verb} it",
        ExitCode.PERMISSION_DENIED,
    ),
    RemoteStatus.IN_THE_WAY: (
        "{path} exists in the job and is not a directory; a directory comes",
        "remove it, or give another destination",
        ExitCode.IN_THE_WAY,
    ),
    RemoteStatus.NO_TAR: (
        "the job has no `tar`, which copying a directory needs",
        "copy the files one by one",
        ExitCode.COPY_FAILED,
    ),
    RemoteStatus.NOT_REGULAR: (
        "{path} is not a regular file or directory in the job",
        "cp copies files and directories",
        ExitCode.NO_SUCH_PATH,
    ),
    RemoteStatus.WRITE_FAILED: (
        "writing {path} failed in the job (disk full, or a tool missing)",
        "look with `jobterm exec JOB -- df -h .`",
        ExitCode.COPY_FAILED,
    ),
    RemoteStatus.READ_FAILED: (
        "reading {path} failed in the job midway",
        "try again",
        ExitCode.COPY_FAILED,
    ),
    RemoteStatus.NO_BUILD_DIR: (
        "{path} is relative, and the job's build directory is unknown: the terminal's shell "
        "has no $CI_PROJECT_DIR and the job's log names none",
        "give the path in the job from / (where the job's script ran)",
        ExitCode.NO_SUCH_PATH,
    ),
    RemoteStatus.MISMATCH: (
        "what arrived in the job differs from what was sent",
        "nothing was put in place; try again",
        ExitCode.CHECKSUM_MISMATCH,
    ),
}


def remote_failure(status: int, remote: bytes, *, upload: bool, name: bytes = b"") -> JobtermError:
    """The error for the remote program's exit status (`name`: an upload's own name)."""
    path = shown(os.fsdecode(remote))
    if status == RemoteStatus.NAME_TAKEN:
        return _name_taken(remote, name)
    if status == RemoteStatus.NOT_FOUND:
        where = "the folder to put it in" if upload else "no such file or directory"
        return JobtermError(
            f"{path}: {where} does not exist in the job"
            if upload
            else f"{path}: {where} in the job",
            "check the path; a relative one starts in the build directory, $CI_PROJECT_DIR",
            code=ExitCode.NO_SUCH_PATH,
        )
    known = _REMOTE.get(status)
    if known is None:
        return JobtermError(
            f"the copy failed in the job (status {status})", _LOOK, code=ExitCode.COPY_FAILED
        )
    message, hint, code = known
    verb = "write" if upload else "read"
    return JobtermError(message.format(path=path), hint.format(verb=verb), code=code)


def _name_taken(remote: bytes, name: bytes) -> JobtermError:
    """An upload into a directory where its name is taken: say which path, not the folder's."""
    taken = shown(os.fsdecode(remote.rstrip(b"/") + b"/" + name))
    return JobtermError(
        f"{taken} already exists in the job: a directory does not merge into one, "
        "nor does a file replace one",
        "remove it in the job, or give the copy another name in the destination",
        code=ExitCode.IN_THE_WAY,
    )
