"""What can be done to one job over REST: find it, read it, read its log, retry or cancel
it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobterm.errors import ForbiddenError, JobtermError, NotRetryableError, UsageError

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab
    from jobterm.jobs.locate import JobQuery


def open_job(
    env: Environment,
    query: JobQuery,
    *,
    need_web_session: bool,
    pick: Callable[[GitLab, str], int] | None = None,
) -> tuple[GitLab, dict[str, Any], dict[str, Any]]:
    """A signed-in client, the project's JSON and the job's JSON for a JOB argument (`pick`
    chooses one when there is none). The caller closes the client."""
    from jobterm.core.jobs import JobRef, parse_job_ref
    from jobterm.gitlab.session import open_gitlab
    from jobterm.jobs.locate import project_for

    ref = parse_job_ref(query.ref) if query.ref else None
    gl = open_gitlab(
        env, ref.origin if ref and ref.origin else query.host, need_web_session=need_web_session
    )
    try:
        proj = gl.project(project_for(gl.host, ref or JobRef(0), query.project))
        if ref is None:
            if pick is None:
                raise UsageError("no JOB given", "pass a job id or URL (see `jobterm jobs`)")
            ref = JobRef(pick(gl, proj["path_with_namespace"]))
        return gl, proj, gl.job(proj["path_with_namespace"], ref.job_id)
    except BaseException:
        gl.close()
        raise


def get_job(gl: GitLab, project: str, job_id: int) -> dict[str, Any]:
    """The job's REST JSON (`GET /projects/:id/jobs/:job_id`)."""
    return gl.job(project, job_id)


def read_trace(gl: GitLab, project: str, job_id: int) -> str:
    """The job's log as the server sent it (untrusted text: escape it before showing it)."""
    return gl.job_trace(project, job_id)


def read_trace_bytes(gl: GitLab, project: str, job_id: int) -> bytes:
    """The job's whole log as stored: untrusted bytes (show them through core.joblog)."""
    from urllib.parse import quote

    from jobterm.gitlab.failures import check_status

    what = f"the log of job {job_id}"
    path = f"/projects/{quote(project, safe='')}/jobs/{int(job_id)}/trace"
    response = gl.api_response("GET", path, what=what)
    check_status(response, gl.host, what)
    return bytes(response.content)


def build_dir_from_log(gl: GitLab, project: str, job_id: int) -> str | None:
    """The build directory as the job's log names it (git's line when the runner fetches
    the sources), or None: a terminal's shell may not have $CI_PROJECT_DIR (the shell
    executor gives it none), and the log is then the one place that says."""
    from jobterm.core.joblog import JobLogReader

    reader = JobLogReader(colour=False)
    try:
        reader.feed(read_trace_bytes(gl, project, job_id))
    except JobtermError:
        return None
    reader.finish()
    return reader.summary.build_dir


def cancel_job(gl: GitLab, project: str, job_id: int) -> dict[str, Any]:
    return gl.cancel_job(project, job_id)


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
