"""`jobterm debug` from start to end: find the job, retry it if it finished, run the event
loop (term/debug.py), and turn its ending into the closing line and the exit code.

Exit codes: after a shell, 0 if the job then succeeded and 1 if it failed or was canceled
(as `logs -f`); with --exec, the command's own status; the races have their own codes
(errors.ExitCode: 20 when the script ended before a terminal could attach, 6 no session
server, 7 another terminal attached, 3 signed out, 130 Ctrl-C).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobterm.core.joblog import one_line
from jobterm.errors import ExitCode, JobStateError, JobtermError, UsageError
from jobterm.jobs.status import FINISHED

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab
    from jobterm.jobs.locate import JobQuery
    from jobterm.term.connection import TerminalTarget
    from jobterm.term.debug_io import DebugOptions, Ending


def run_debug(
    env: Environment,
    query: JobQuery,
    *,
    retry: bool,
    if_failed: bool,
    options: DebugOptions,
) -> int:
    fds = (env.stdin.fileno(), env.stdout.fileno(), env.stderr.fileno())
    if options.exec_spec is None and not (os.isatty(fds[0]) and os.isatty(fds[1])):
        raise UsageError(
            "debug needs a terminal on stdin and stdout for its shell",
            "in scripts use `jobterm debug JOB --exec 'CMD'`",
        )
    from jobterm.jobs.actions import open_job

    gl, proj, job = open_job(env, query, need_web_session=True, pick=_picker(env))
    path = proj["path_with_namespace"]
    with gl:
        status = str(job.get("status"))
        if if_failed and status != "failed":
            _say(env, f"job {job['id']} is {one_line(status)}, not failed; nothing to do")
            return int(ExitCode.OK)
        job = _job_to_follow(env, gl, proj, job, retry)
        from jobterm.term.debug import DebugRun

        target = _target(gl, job)
        ending = asyncio.run(DebugRun(gl, path, job, target, options, fds).run())
        return _report(env, ending, exec_mode=options.exec_spec is not None)


def _job_to_follow(
    env: Environment, gl: GitLab, proj: dict[str, Any], job: dict[str, Any], retry: bool
) -> dict[str, Any]:
    """The job itself if it has not finished (its terminal must be able to open, now or
    once it runs), else a retry of it."""
    from jobterm.jobs.status import check_can_open, check_yours

    path = str(proj["path_with_namespace"])
    job_id, status = int(job["id"]), str(job.get("status"))
    if status not in FINISHED:
        (check_can_open if status == "running" else check_yours)(gl, job, proj)
        return job
    if not retry:
        raise JobStateError(
            f"job {job_id} already finished ({one_line(status)}) and --no-retry was given",
            "drop --no-retry to run it again with a terminal",
        )
    from jobterm.jobs.actions import retry_job

    new = retry_job(gl, path, job_id)
    url = one_line(str(new.get("web_url", "")))
    _say(env, f"job {job_id} {one_line(status)}; retried it as job {new['id']}: {url}")
    return new


def _target(gl: GitLab, job: dict[str, Any]) -> TerminalTarget:
    from jobterm.jobs.locate import ws_url_for
    from jobterm.jobs.terminal import terminal_target

    return terminal_target(gl, ws_url_for(job["web_url"], gl.host), int(job["id"]))


def _picker(env: Environment) -> Callable[[GitLab, str], int] | None:
    """With no JOB on a terminal: choose among your recent failed jobs."""
    if not (env.stdin_isatty and env.stdout_isatty):
        return None
    from jobterm.jobs.picker import pick_failed_job

    return pick_failed_job


def _report(env: Environment, ending: Ending, exec_mode: bool = False) -> int:
    if ending.message and ending.code not in (None, 0, 130) and ending.code < 128:
        raise JobtermError(ending.message, ending.hint, code=ExitCode(ending.code))
    if ending.message:
        _say(env, ending.message + (f" ({ending.hint})" if ending.hint else ""))
    job = ending.job
    if job is not None:
        status = str(job.get("status"))
        name = one_line(str(job.get("name", "")))
        if status in FINISHED:
            _say(env, f"job {job['id']} '{name}' finished: {one_line(status)}")
        else:
            _say(env, f"job {job['id']} '{name}' is still {one_line(status)}")
    if ending.exec_status is not None:
        return ending.exec_status
    if ending.code is not None:
        return ending.code
    if exec_mode:  # the command never ran (e.g. the docker executor ended the shell first)
        _say(env, "the command did not run")
        return int(ExitCode.EXEC_FAILED)
    return int(ExitCode.OK) if job is not None and job.get("status") == "success" else 1


def _say(env: Environment, text: str) -> None:
    env.stderr.write(f"jobterm: {text}\n")
    env.stderr.flush()
