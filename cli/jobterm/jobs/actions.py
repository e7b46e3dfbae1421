"""What can be done to one job over REST: read it, read its log, retry it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobterm.errors import ForbiddenError, NotRetryableError

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab


def get_job(gl: GitLab, project: str, job_id: int) -> dict[str, Any]:
    """The job's REST JSON (`GET /projects/:id/jobs/:job_id`)."""
    return gl.job(project, job_id)


def read_trace(gl: GitLab, project: str, job_id: int) -> str:
    """The job's log as the server sent it (untrusted text: escape it before showing it)."""
    return gl.job_trace(project, job_id)


def retry_job(gl: GitLab, project: str, job_id: int) -> dict[str, Any]:
    """Retry the job; the new job's JSON. GitLab answers 403 for a job that cannot be retried
    (still running or pending, or one the user may not run): that is `NotRetryableError`."""
    try:
        return gl.retry_job(project, job_id)
    except ForbiddenError as exc:
        raise NotRetryableError(
            f"job {job_id} of {project} cannot be retried ({exc.message})",
            "only a finished job can be retried, by someone allowed to run the project's pipelines",
        ) from exc
