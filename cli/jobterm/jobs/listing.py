"""Listing jobs: the signed-in user's jobs in one project or everywhere (what `jobterm jobs`
renders), and `list_jobs` for pickers (e.g. recent failed jobs).

Where it looks:

* one project (`--project`, else this directory's git remote on the host): its jobs;
* `--everywhere`: `GET /api/v4/pipelines` (the user's pipelines in every project, newer
  GitLab) and then each pipeline's jobs; on an older GitLab that answers 404, every project
  the user is a member of (archived ones left out: they have no terminals). Those
  per-pipeline/per-project requests run in parallel, at most `PARALLEL` at a time.

Only the user's own jobs are listed (only they can open a job's terminal): the running ones,
or with `--all` the recent ones whatever their status. Whether a terminal can be opened comes
from the job page's JSON (`terminal_path`), asked for running jobs only and only when there
is a web session (a token cannot see it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from jobterm.core.jobs import split_project_path
from jobterm.errors import JobtermError, UsageError

if TYPE_CHECKING:
    from jobterm.core.hosts import Host
    from jobterm.gitlab.api import GitLab

PARALLEL = 8  # concurrent requests to the instance: enough to be quick, few enough to be polite
RECENT_PIPELINES = 20  # --everywhere --all: how many of the newest pipelines to look into
RECENT_JOBS = 50  # --all: the most jobs listed per project

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Listing:
    host: str
    where: str  # "demo/app" or "all your projects"
    everywhere: bool
    include_finished: bool
    jobs: list[dict[str, Any]] = field(default_factory=list)  # REST job JSON + "project"
    terminals: dict[int, str] = field(default_factory=dict)  # job id -> yes / no / ?
    by_project: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    projects_checked: int = 0
    used_pipelines_api: bool = False
    member_projects: list[dict[str, Any]] = field(default_factory=list)  # when fetched


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int = PARALLEL) -> list[R]:
    """`fn` over `items` in up to `workers` threads; results in order; the first error raises."""
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        return list(pool.map(fn, todo))


def project_of_job(gl: GitLab, job: dict[str, Any]) -> str:
    """The project's full path, from the job's web URL (job JSON has no project path)."""
    path = unquote(urlsplit(str(job.get("web_url", ""))).path).split("/-/", 1)[0]
    return split_project_path(path, gl.host.root) or ""


def _mine(jobs: Iterable[dict[str, Any]], username: str) -> list[dict[str, Any]]:
    return [j for j in jobs if (j.get("user") or {}).get("username") == username]


def list_jobs(
    gl: GitLab,
    project: str,
    statuses: Sequence[str] = (),
    *,
    mine: bool = True,
    username: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """A project's jobs (the newest 100), newest first, with one of `statuses` (any when
    empty), at most `limit`. `mine`: the user's own only (only they can open a job's
    terminal); `username` saves looking the user up when the caller knows it."""
    jobs = gl.jobs(project, scope=list(statuses))
    if mine:
        jobs = _mine(jobs, username if username is not None else str(gl.user().get("username")))
    return jobs if limit is None else jobs[:limit]


def listing_project(host: Host, project: str | None) -> str:
    """--project, else the git remote of this directory that points to the host."""
    from jobterm.jobs.locate import remote_project

    found = project or remote_project(host)
    if found:
        return found
    raise UsageError(
        f"which project? no --project given and no git remote here points to {host.name}",
        "pass --project GROUP/PROJECT, or --everywhere for all your projects",
    )


def _scope(include_finished: bool) -> list[str]:
    return [] if include_finished else ["running"]


def project_jobs(
    gl: GitLab, project: str, username: str, include_finished: bool
) -> list[dict[str, Any]]:
    mine = list_jobs(gl, project, _scope(include_finished), username=username, limit=RECENT_JOBS)
    for job in mine:
        job["project"] = project_of_job(gl, job) or project
    return mine


def everywhere_jobs(gl: GitLab, username: str, include_finished: bool, listing: Listing) -> None:
    """Fill `listing` from every project: via the pipelines API, else project by project."""
    pipelines = gl.user_pipelines(
        status=None if include_finished else "running",
        max_pages=1,
    )
    if pipelines is not None:
        listing.used_pipelines_api = True
        if include_finished:
            pipelines = pipelines[:RECENT_PIPELINES]
        found = bounded_map(
            lambda p: gl.pipeline_jobs(p["project_id"], int(p["id"]), _scope(include_finished)),
            pipelines,
        )
        listing.projects_checked = len({p.get("project_id") for p in pipelines})
        jobs = _mine((job for batch in found for job in batch), username)
        for job in jobs:
            job["project"] = project_of_job(gl, job)
    else:
        projects = gl.projects(membership=True)
        listing.projects_checked = len(projects)
        listing.member_projects = projects
        found = bounded_map(
            lambda p: _jobs_or_none(gl, p, username, include_finished),
            projects,
        )
        jobs = [job for batch in found for job in batch]
    jobs.sort(key=lambda j: -int(j["id"]))
    listing.jobs = jobs


def _jobs_or_none(
    gl: GitLab, project: dict[str, Any], username: str, include_finished: bool
) -> list[dict[str, Any]]:
    """A member project's jobs; a project whose jobs we may not read adds nothing."""
    from jobterm.errors import ForbiddenError, NotFoundError

    try:
        jobs = project_jobs(gl, str(project["id"]), username, include_finished)
    except (ForbiddenError, NotFoundError):
        return []
    for job in jobs:
        job["project"] = project.get("path_with_namespace") or job["project"]
    return jobs


def terminal_state(gl: GitLab, job: dict[str, Any]) -> str:
    """yes / no / ? : can `jobterm attach` open this job's terminal now?"""
    status = job.get("status")
    if status != "running":
        return "no"
    if not gl.has_web_session:
        return "?"
    project = job.get("project") or project_of_job(gl, job)
    try:
        web = gl.web_job(project, int(job["id"]))
    except JobtermError:
        return "?"
    return "yes" if web.get("terminal_path") else "no"


def find_jobs(
    gl: GitLab,
    *,
    project: str | None,
    everywhere: bool,
    include_finished: bool,
) -> Listing:
    """The user's jobs (see the module's docstring)."""
    username = str(gl.user().get("username", ""))
    if everywhere:
        listing = Listing(gl.host.name, "all your projects", True, include_finished)
        everywhere_jobs(gl, username, include_finished, listing)
    else:
        if project is None:
            raise UsageError("no project given")  # the command resolves it first
        path = str(gl.project(project).get("path_with_namespace") or project)
        listing = Listing(gl.host.name, path, False, include_finished)
        listing.jobs = project_jobs(gl, path, username, include_finished)
        listing.projects_checked = 1
    for job in listing.jobs:
        listing.by_project.setdefault(str(job.get("project", "")), []).append(job)
    running = [j for j in listing.jobs if j.get("status") == "running"]
    states = bounded_map(lambda j: terminal_state(gl, j), running)
    listing.terminals = {int(j["id"]): s for j, s in zip(running, states, strict=True)}
    return listing


def running_seconds(job: dict[str, Any], now: datetime | None = None) -> int | None:
    """How long the job ran (until it finished, else until `now`); None if it never began."""
    started = job.get("started_at")
    if not started:
        return None
    try:
        begin = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    except ValueError:
        return None
    end_text = job.get("finished_at")
    end = now or datetime.now(timezone.utc)
    if end_text:
        with contextlib.suppress(ValueError):
            end = datetime.fromisoformat(str(end_text).replace("Z", "+00:00"))
    return max(int((end - begin).total_seconds()), 0)
