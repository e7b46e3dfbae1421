"""The job picker shown by `attach`/`exec` when no JOB is given on a terminal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobterm.core.safetext import visible
from jobterm.errors import NotFoundError
from jobterm.jobs.listing import list_jobs, running_seconds

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab


def running_for(job: dict[str, Any], now: datetime | None = None) -> str:
    seconds = running_seconds(job, now)
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def describe(job: dict[str, Any]) -> str:
    """One line of the menu; names are the server's, so their control characters are shown."""
    pipeline = (job.get("pipeline") or {}).get("id", "?")
    name, stage, ref = (
        visible(str(job.get(k, "")), one_line=True) for k in ("name", "stage", "ref")
    )
    return visible(
        f"{job['id']}  {name}  [{stage}]  {ref}  pipeline {pipeline}  running {running_for(job)}"
    )


def my_running_jobs(gl: GitLab, project: str) -> list[dict[str, Any]]:
    return list_jobs(gl, project, ["running"])


def pick_failed_job(gl: GitLab, project: str) -> int:
    """`jobterm debug` with no JOB: one of your recent failed jobs, the newest first."""
    from prompt_toolkit.shortcuts import choice

    jobs = list_jobs(gl, project, ["failed"], limit=20)
    if not jobs:
        raise NotFoundError(
            f"you have no failed jobs in {project}",
            "pass a job id, or --project for another project",
        )
    options = [(int(j["id"]), _finished_line(j)) for j in jobs]
    return choice(f"Debug which failed job in {project}?", options=options)


def _finished_line(job: dict[str, Any]) -> str:
    pipeline = (job.get("pipeline") or {}).get("id", "?")
    return (
        f"{job['id']}  {job.get('name', '')}  [{job.get('stage', '')}]  "
        f"{job.get('ref', '')}  pipeline {pipeline}  {job.get('status', '')}"
    )


def pick_running_job(gl: GitLab, project: str) -> int:
    from prompt_toolkit.shortcuts import choice

    jobs = my_running_jobs(gl, project)
    if not jobs:
        raise NotFoundError(
            f"you have no running jobs in {project}",
            "start a pipeline, or pass --project for another project",
        )
    options = [(int(j["id"]), describe(j)) for j in jobs]
    return choice(visible(f"Attach to which job in {project}?"), options=options)
