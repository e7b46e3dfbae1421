"""From a JOB argument to an open-able terminal: host, project, job, and the REST pre-checks.

GitLab's handshake answers a bare 404 for most problems (not running, not yours, no session
server…), so before connecting we ask the REST API and say precisely what is wrong.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobterm.core.jobs import JobRef, parse_job_ref, project_from_remote, split_project_path
from jobterm.errors import (
    ForbiddenError,
    JobStateError,
    TimeoutExpired,
    UsageError,
)
from jobterm.term.connection import TerminalTarget

if TYPE_CHECKING:
    from jobterm.core.hosts import Host
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab

log = logging.getLogger("jobterm.target")

WAITING = frozenset({"created", "pending", "waiting_for_resource", "preparing", "scheduled"})
FINISHED = frozenset({"success", "failed", "canceled", "skipped"})


@dataclass
class ResolvedJob:
    gitlab: GitLab
    project: str  # full path
    job: dict[str, Any]
    target: TerminalTarget = field(repr=False)

    @property
    def label(self) -> str:
        return f"job {self.job['id']} '{self.job.get('name', '')}'"


def describe_finish(job: dict[str, Any]) -> str:
    return f"job {job['id']} '{job.get('name', '')}' finished: {job.get('status')}"


def ws_url_for(web_url: str, host: Host) -> str:
    """The job's terminal on the host signed in to: web_url names GitLab's external_url,
    which may be another alias or http:// behind a TLS proxy, and the cookie goes along."""
    from urllib.parse import urlsplit

    if not web_url.startswith(("https://", "http://")):
        raise UsageError(f"unexpected job URL {web_url!r} from the server")
    scheme = "wss" if host.scheme == "https" else "ws"
    return f"{scheme}://{host.netloc}{urlsplit(web_url).path.rstrip('/')}/terminal.ws"


def git_remote_projects(cwd: str | None = None) -> list[tuple[str, str]]:
    """(host, project path) for each remote of the git repository around `cwd`."""
    try:
        out = subprocess.run(
            ["git", "remote", "-v"], cwd=cwd, capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[tuple[str, str]] = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            pair = project_from_remote(parts[1])
            if pair and pair not in found:
                found.append(pair)
    return found


def remote_project(gl: GitLab) -> str | None:
    """The project of this directory's first git remote that points to `gl`'s host."""
    host_name = gl.host.hostname.lower()
    for host, path in git_remote_projects():
        if host == host_name:
            return path
    return None


def pick_project(gl: GitLab, ref: JobRef, project: str | None) -> str:
    if ref.path is not None:
        return split_project_path(ref.path, gl.host.root) or ref.path
    if project:
        return project
    from_remote = remote_project(gl)
    if from_remote:
        return from_remote
    raise UsageError(
        f"which project? no --project given and no git remote here points to {gl.host.name}",
        "pass --project GROUP/PROJECT or the job's URL",
    )


def check_job(gl: GitLab, job: dict[str, Any], project: dict[str, Any]) -> None:
    """Raise the specific error that stops a terminal from opening, if any."""
    label = f"job {job['id']} '{job.get('name', '')}'"
    status = job.get("status", "")
    if status in FINISHED:
        raise JobStateError(
            f"{label} already finished: {status}",
            "retry the job to get a new one you can attach to",
        )
    if status in WAITING or status == "manual":
        raise JobStateError(
            f"{label} is not running yet ({status})",
            "pass --wait to wait until it starts",
        )
    if project.get("archived"):
        raise ForbiddenError(
            f"project {project.get('path_with_namespace')} is archived",
            "archived projects have no terminals",
        )
    me = gl.user()
    owner = (job.get("user") or {}).get("username")
    if owner != me.get("username"):
        raise ForbiddenError(
            f"{label} was started by {owner or 'someone else'}; only the user who started a "
            "job can open its terminal",
            "retry or run the job yourself to get one you can attach to",
        )
    web = gl.web_job(project["path_with_namespace"], int(job["id"]))
    if not web.get("terminal_path"):
        runner = job.get("runner") or {}
        desc = runner.get("description") or "its runner"
        raise ForbiddenError(
            f"{label} runs on {desc!r}, which offers no terminal",
            "terminals need a runner with [session_server] (GitLab.com's instance runners "
            "have none)",
        )


def wait_until_running(
    gl: GitLab,
    project: str,
    job: dict[str, Any],
    timeout: float,
    tick: Callable[[dict[str, Any]], None] | None = None,
    interval: float = 1.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job.get("status") in WAITING or job.get("status") == "manual":
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
        path = pick_project(gl, ref or JobRef(0), project)
        proj = gl.project(path)
        path = proj["path_with_namespace"]
        if ref is None:
            if pick is None:
                raise UsageError("no JOB given", "pass a job id or URL (see `jobterm jobs`)")
            ref = JobRef(pick(gl, path))
        job = gl.job(path, ref.job_id)
        if wait:
            job = wait_until_running(gl, path, job, wait_timeout, tick)
        check_job(gl, job, proj)
    except BaseException:
        gl.close()
        raise
    target = TerminalTarget(
        ws_url=ws_url_for(job["web_url"], gl.host),
        cookie_header=gl.cookie_header(),
        ssl_context=gl.ssl_context(),
        host_label=gl.host.name,
        job_id=int(job["id"]),
    )
    return ResolvedJob(gl, path, job, target)
