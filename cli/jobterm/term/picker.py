"""The job picker shown by `attach`/`exec` when no JOB is given on a terminal."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jobterm.errors import NotFoundError

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab


def running_for(job: dict[str, Any], now: datetime | None = None) -> str:
    started = job.get("started_at")
    if not started:
        return "-"
    try:
        begin = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    except ValueError:
        return "-"
    seconds = int(((now or datetime.now(timezone.utc)) - begin).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def describe(job: dict[str, Any]) -> str:
    pipeline = (job.get("pipeline") or {}).get("id", "?")
    return (
        f"{job['id']}  {job.get('name', '')}  [{job.get('stage', '')}]  "
        f"{job.get('ref', '')}  pipeline {pipeline}  running {running_for(job)}"
    )


def my_running_jobs(gl: GitLab, project: str) -> list[dict[str, Any]]:
    me = gl.user().get("username")
    jobs = gl.jobs(project, scope=["running"])
    return [j for j in jobs if (j.get("user") or {}).get("username") == me]


def pick_running_job(gl: GitLab, project: str) -> int:
    from prompt_toolkit.shortcuts import choice

    jobs = my_running_jobs(gl, project)
    if not jobs:
        raise NotFoundError(
            f"you have no running jobs in {project}",
            "start a pipeline, or pass --project for another project",
        )
    options = [(int(j["id"]), describe(j)) for j in jobs]
    return choice(f"Attach to which job in {project}?", options=options)
