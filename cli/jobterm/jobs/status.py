"""A job's state: which statuses can have a terminal, the pre-checks that say precisely why
a terminal cannot open, and waiting for a job to start.

GitLab's terminal handshake answers a bare 404 for most problems (not running, not yours, no
session server…); `check_can_open` asks the REST API and raises the error that names the
cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from jobterm.core.safetext import visible
from jobterm.errors import ForbiddenError, JobStateError, JobtermError, TimeoutExpired

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab

Job = dict[str, Any]

#: Not started yet: `--wait` waits these out (`manual` too: someone may press play).
WAITING = frozenset({"created", "pending", "waiting_for_resource", "preparing", "scheduled"})
FINISHED = frozenset({"success", "failed", "canceled", "skipped"})
NOT_STARTED = WAITING | {"manual"}


def label(job: Job) -> str:
    """`job 123 'build'`: how messages name a job (the name is the server's, shown quoted
    and with any control character made visible)."""
    return f"job {job['id']} '{visible(str(job.get('name', '')), one_line=True)}'"


def shown_status(job: Job) -> str:
    """The job's status for a message (the server's word, made safe to print)."""
    return visible(str(job.get("status")), one_line=True)


def describe_finish(job: Job) -> str:
    return f"{label(job)} finished: {shown_status(job)}"


def check_can_open(gl: GitLab, job: Job, project: Job) -> None:
    """Raise the specific error that stops a terminal from opening, if any."""
    name = label(job)
    status = job.get("status", "")
    if status in FINISHED:
        raise JobStateError(
            f"{name} already finished: {status}",
            "retry the job to get a new one you can attach to",
        )
    if status in NOT_STARTED:
        raise JobStateError(
            f"{name} is not running yet ({status})",
            "pass --wait to wait until it starts",
        )
    check_yours(gl, job, project)
    web = gl.web_job(project["path_with_namespace"], int(job["id"]))
    if not web.get("terminal_path"):
        runner = job.get("runner") or {}
        desc = runner.get("description") or "its runner"
        raise ForbiddenError(
            f"{name} runs on '{visible(str(desc), one_line=True)}', which offers no terminal",
            "terminals need a runner with [session_server] (GitLab.com's instance runners "
            "have none)",
        )


def check_yours(gl: GitLab, job: Job, project: Job) -> None:
    """Raise unless the job's terminal could be the user's once it runs: a project that is
    not archived, a job the user started (build_policy.rb)."""
    if project.get("archived"):
        raise ForbiddenError(
            f"project {visible(str(project.get('path_with_namespace')))} is archived",
            "archived projects have no terminals",
        )
    me = gl.user()
    owner = (job.get("user") or {}).get("username")
    if owner != me.get("username"):
        raise ForbiddenError(
            f"{label(job)} was started by {visible(str(owner or 'someone else'))}; only the "
            "user who started a job can open its terminal",
            "retry or run the job yourself to get one you can attach to",
        )


def wait_while(
    gl: GitLab,
    project: str,
    job: Job,
    statuses: Collection[str],
    timeout: float,
    tick: Callable[[Job], None] | None = None,
    interval: float = 1.0,
) -> Job:
    """Poll the job while its status is one of `statuses`; its JSON once it is not."""
    deadline = time.monotonic() + timeout
    while job.get("status") in statuses:
        if time.monotonic() >= deadline:
            raise TimeoutExpired(
                f"job {job['id']} is still {job.get('status')} after {timeout:g} s",
                "raise --wait-timeout, or check the pipeline's runners",
            )
        if tick is not None:
            tick(job)
        time.sleep(interval)
        job = gl.job(project, int(job["id"]))
    return job


def wait_until_running(
    gl: GitLab,
    project: str,
    job: Job,
    timeout: float,
    tick: Callable[[Job], None] | None = None,
) -> Job:
    return wait_while(gl, project, job, NOT_STARTED, timeout, tick)


def state_clause(gl: GitLab, project: str, job_id: int) -> str:
    """` (job 5 finished: failed)`: what the API says of the job now, for the end of a
    message; empty when the API cannot say."""
    try:
        job = gl.job(project, job_id)
    except JobtermError:
        return ""
    if job.get("status") in FINISHED:
        return f" (job {job['id']} finished: {job.get('status')})"
    return f" (job {job['id']} is {job.get('status')})"
