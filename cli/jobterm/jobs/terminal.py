"""A JOB argument to an open-able terminal: find the job, run the pre-checks, build the
WebSocket target (`ResolvedJob`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobterm.core.jobs import JobRef, parse_job_ref
from jobterm.errors import UsageError
from jobterm.jobs.locate import project_for, ws_url_for
from jobterm.jobs.status import check_can_open, label, wait_until_running
from jobterm.term.connection import TerminalTarget

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab


@dataclass
class ResolvedJob:
    gitlab: GitLab
    project: str  # full path
    job: dict[str, Any]
    target: TerminalTarget = field(repr=False)

    @property
    def label(self) -> str:
        return label(self.job)

    @property
    def job_id(self) -> int:
        return int(self.job["id"])


def terminal_target(gl: GitLab, ws_url: str, job_id: int) -> TerminalTarget:
    """What the WebSocket needs: the URL, the session cookie, and the REST client's trust."""
    return TerminalTarget(
        ws_url=ws_url,
        cookie_header=gl.cookie_header(),
        ssl_context=gl.ssl_context(),
        host_label=gl.host.name,
        job_id=job_id,
    )


def resolve_terminal(
    env: Environment,
    job_ref: str | None,
    *,
    project: str | None,
    host: str | None,
    wait: bool = False,
    wait_timeout: float = 600.0,
    tick: Callable[[dict[str, Any]], None] | None = None,
    pick: Callable[[GitLab, str], int] | None = None,
) -> ResolvedJob:
    """Find the job, check it can have a terminal, and build the WebSocket target."""
    from jobterm.gitlab.session import open_gitlab

    ref = parse_job_ref(job_ref) if job_ref else None
    gl = open_gitlab(env, ref.origin if ref and ref.origin else host, need_web_session=True)
    try:
        path = project_for(gl.host, ref or JobRef(0), project)
        proj = gl.project(path)
        path = proj["path_with_namespace"]
        if ref is None:
            if pick is None:
                raise UsageError("no JOB given", "pass a job id or URL (see `jobterm jobs`)")
            ref = JobRef(pick(gl, path))
        job = gl.job(path, ref.job_id)
        if wait:
            job = wait_until_running(gl, path, job, wait_timeout, tick)
        check_can_open(gl, job, proj)
    except BaseException:
        gl.close()
        raise
    target = terminal_target(gl, ws_url_for(job["web_url"], gl.host), int(job["id"]))
    return ResolvedJob(gl, path, job, target)
