"""`jobterm cp` from operands to a verified copy: check locally, find the job, transfer.

Local problems are found before connecting (a missing source, a destination folder that is
not there or not writable), so a transfer starts only when it can land. Errors of the
session keep their codes, but say what they mean for a copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobterm.cp.archive import shown
from jobterm.errors import (
    ConnectionLostError,
    ExitCode,
    JobStateError,
    JobtermError,
    UsageError,
)

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from jobterm.cp.transfer import Outcome, Progress
    from jobterm.env import Environment
    from jobterm.jobs.terminal import ResolvedJob


@dataclass(frozen=True)
class CopyRequest:
    job: str
    remote: bytes  # the path in the job
    local: Path
    upload: bool
    project: str | None = None
    host: str | None = None
    timeout: float | None = None  # --timeout: the whole copy, from connecting on

    @classmethod
    def from_operands(
        cls, source: str, destination: str, *, project: str | None, host: str | None
    ) -> CopyRequest:
        """Which side is `JOB:PATH` decides the direction; exactly one must be."""
        from jobterm.core.cpscript import split_operand

        remote_src, remote_dst = split_operand(source), split_operand(destination)
        if (remote_src is None) == (remote_dst is None):
            raise UsageError(
                "both sides of cp are JOB:PATH" if remote_src else "neither side of cp is JOB:PATH",
                "one side is local: e.g. `jobterm cp 123:report.xml .` or "
                "`jobterm cp fix.conf 123:conf/`",
            )
        job, remote = remote_src or remote_dst or ("", "")
        if not remote:
            raise UsageError("the path in the job is empty", "write JOB:. for the build directory")
        local = Path(destination if remote_src else source)
        return cls(job, os.fsencode(remote), local, remote_dst is not None, project, host)


def check_source(local: Path) -> None:
    """An upload's source: it must exist, be readable, and be a file or a directory."""
    try:
        info = local.stat()
    except FileNotFoundError:
        raise JobtermError(
            f"{shown(str(local))}: no such file or directory",
            "check the path",
            code=ExitCode.NO_SUCH_PATH,
        ) from None
    except PermissionError:
        info = None
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise JobtermError(
            f"{shown(str(local))} is not a regular file or directory",
            "cp copies files and directories",
            code=ExitCode.NO_SUCH_PATH,
        )
    wanted = os.R_OK | (os.X_OK if local.is_dir() else 0)
    if info is None or not os.access(local, wanted):
        raise JobtermError(
            f"{shown(str(local))}: permission denied",
            "you may not read it",
            code=ExitCode.PERMISSION_DENIED,
        )


def run_copy(env: Environment, request: CopyRequest, progress: Progress) -> Outcome:
    """Do the copy the request describes; raises JobtermError with cp's exit codes."""
    from jobterm.cp.local import check_destination_dir
    from jobterm.cp.transfer import download, read_payload, upload
    from jobterm.jobs.locate import JobQuery
    from jobterm.jobs.terminal import resolve_terminal, with_diagnosis

    if request.upload:
        check_source(request.local)
        payload = read_payload(request.local)
    else:
        check_destination_dir(request.local)
    with contextlib.ExitStack() as stack:
        if request.upload:
            stack.callback(payload.file.close)
        try:
            query = JobQuery(request.job, request.project, request.host)
            resolved = resolve_terminal(env, query)
            with resolved:  # connect first: REST says why only if the terminal refuses
                base = _build_dir(resolved, request.remote)

                def transfer() -> Outcome:
                    target, remote, limit = resolved.target, request.remote, request.timeout
                    if request.upload:
                        return _finish(upload(target, payload, remote, progress, base, limit))
                    return _finish(download(target, remote, request.local, progress, base, limit))

                return with_diagnosis(resolved, transfer)
        except JobStateError as exc:
            exc.hint = "cp needs a running job; to keep a finished job around, see `jobterm debug`"
            raise


def _build_dir(resolved: ResolvedJob, remote: bytes) -> bytes | None:
    """For a relative path: the build directory as the job's log names it, which the job's
    programs use where the shell has no $CI_PROJECT_DIR (one more request, relative paths
    only)."""
    from jobterm.jobs.actions import build_dir_from_log

    if remote.startswith(b"/"):
        return None
    found = build_dir_from_log(resolved.gitlab, resolved.project, resolved.job_id)
    return os.fsencode(found) if found else None


def _finish(transfer: Coroutine[Any, Any, Outcome]) -> Outcome:
    """Run the transfer; the session's errors say what they mean for a copy."""
    from jobterm.core.execrun import Killed, Sig

    try:
        return asyncio.run(transfer)
    except ConnectionLostError as exc:
        raise ConnectionLostError(
            f"the connection to the job ended during the copy ({exc.message})",
            "nothing was put in place; try again",
        ) from None
    except Killed as exc:  # exec's 255 would read as "a tool is missing" here
        exc.exit_code = ExitCode.HANGUP if exc.sig is Sig.HUP else ExitCode.TERMINATED
        raise
    except JobtermError as exc:
        if exc.exit_code == ExitCode.EXEC_FAILED:  # the job's shell could not set up
            exc.exit_code = ExitCode.COPY_FAILED
        raise
    except OSError as exc:  # writing here failed: disk full, a folder gone, permissions
        code = ExitCode.PERMISSION_DENIED if exc.errno == errno.EACCES else ExitCode.COPY_FAILED
        raise JobtermError(
            f"writing the copy here failed: {exc.strerror or exc}",
            "nothing was put in place; free some space or choose another destination",
            code=code,
        ) from None
