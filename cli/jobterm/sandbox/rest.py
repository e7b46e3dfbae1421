"""The REST API (`/api/v4`) jobterm needs, answering as GitLab's Grape API does.

Authentication (lib/api/api_guard.rb): a personal access token in `PRIVATE-TOKEN`, the
`private_token` parameter or `Authorization: Bearer`; a token that matches nobody is 401 even
with a good cookie. Without a token the session cookie counts for GET/HEAD; for other
methods only with the session's `X-CSRF-Token`, else the request is anonymous.
Anonymous requests see no (private) projects: 404 for a project, 401 where a user is needed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiDict

from jobterm.sandbox import entities, runnerlog
from jobterm.sandbox.model import is_number, parse_id
from jobterm.sandbox.rails import api_error, api_json, csrf_ok, now_of, state_of, web_auth
from jobterm.sandbox.state import FINISHED, JOB_SCOPES, Job, Pipeline, Project, User

T = TypeVar("T")
PIPELINE_STATUSES = frozenset(
    {
        "created",
        "waiting_for_resource",
        "preparing",
        "pending",
        "running",
        "success",
        "failed",
        "canceled",
        "skipped",
        "manual",
        "scheduled",
    }
)
PIPELINE_SCOPES = frozenset({"running", "pending", "finished", "branches", "tags"})


class Abort(Exception):
    """Stop a handler with GitLab's error answer."""

    def __init__(self, status: int, message: str | None = None, key: str = "message") -> None:
        super().__init__(status)
        self.response = api_error(status, message, key=key)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Abort as abort:
            return abort.response

    return wrapper


def current_user(request: web.Request, *, required: bool = True) -> User | None:
    state = state_of(request)
    token = request.headers.get("PRIVATE-TOKEN") or request.query.get("private_token")
    authorization = request.headers.get("Authorization", "")
    if not token and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    user: User | None
    if token:
        user = state.user_by_token(token)
        if user is None:
            raise Abort(401)
    else:
        auth = web_auth(request)
        user = auth.user
        if request.method not in ("GET", "HEAD") and not csrf_ok(
            auth.session, request.headers.get("X-CSRF-Token")
        ):
            user = None  # a cookie without the CSRF token is not a credential here
    if user is None and required:
        raise Abort(401)
    return user


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise Abort(400, f"{name} is invalid", key="error") from None


def paginate(request: web.Request, items: Sequence[T]) -> tuple[Sequence[T], dict[str, str]]:
    """A page of `items` and GitLab's pagination headers (offset pagination)."""
    per_page = min(max(_int_param(request, "per_page", 20), 1), 100)
    page = max(_int_param(request, "page", 1), 1)
    total = len(items)
    pages = max(math.ceil(total / per_page), 1)

    def link(number: int) -> str:
        query = MultiDict(request.query)
        query["page"] = str(number)
        query["per_page"] = str(per_page)
        return str(request.url.with_query(query))

    links = []
    if page > 1:
        links.append(f'<{link(page - 1)}>; rel="prev"')
    if page < pages:
        links.append(f'<{link(page + 1)}>; rel="next"')
    links += [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": ", ".join(links),
    }
    start = (page - 1) * per_page
    return items[start : start + per_page], headers


def _listing(request: web.Request, items: Sequence[T], render: Callable[[T], Any]) -> web.Response:
    page, headers = paginate(request, items)
    return api_json([render(item) for item in page], headers=headers)


def _project(request: web.Request, user: User | None) -> Project:
    state = state_of(request)
    project = state.find_project(request.match_info["id"])
    if project is None or not state.is_member(user, project):
        raise Abort(404, "404 Project Not Found")
    return project


def _job(request: web.Request, project: Project) -> Job:
    raw = request.match_info["job_id"]
    if not is_number(raw):
        raise Abort(400, "job_id is invalid", key="error")
    job = state_of(request).find_job(project, raw)
    if job is None:
        raise Abort(404, "404 Not found")
    return job


def _values(request: web.Request, name: str) -> list[str]:
    return [*request.query.getall(name, []), *request.query.getall(f"{name}[]", [])]


def _check(values: list[str], allowed: frozenset[str], name: str) -> None:
    if any(v not in allowed for v in values):
        raise Abort(400, f"{name} does not have a valid value", key="error")


@endpoint
async def get_user(request: web.Request) -> web.Response:
    user = current_user(request)
    assert user is not None
    return api_json(entities.user_full(state_of(request), user, now_of(request)))


@endpoint
async def get_version(request: web.Request) -> web.Response:
    current_user(request)
    return api_json({"version": "17.6.0-sandbox", "revision": "sandbox", "enterprise": False})


@endpoint
async def list_projects(request: web.Request) -> web.Response:
    state = state_of(request)
    user = current_user(request, required=False)
    projects = state.visible_projects(user)
    archived = request.query.get("archived")
    if archived in ("true", "false"):
        projects = [p for p in projects if p.archived == (archived == "true")]
    search = request.query.get("search", "").lower()
    if search:
        projects = [p for p in projects if search in p.path_with_namespace.lower()]
    now = now_of(request)
    return _listing(request, projects, lambda p: entities.project(state, p, now))


@endpoint
async def get_project(request: web.Request) -> web.Response:
    project = _project(request, current_user(request, required=False))
    return api_json(entities.project(state_of(request), project, now_of(request)))


def _job_listing(request: web.Request, jobs: list[Job]) -> web.Response:
    scopes = _values(request, "scope")
    _check(scopes, JOB_SCOPES, "scope")
    if scopes:
        jobs = [j for j in jobs if j.status in scopes]
    state, now = state_of(request), now_of(request)
    return _listing(request, jobs, lambda j: entities.job(state, j, now))


@endpoint
async def list_jobs(request: web.Request) -> web.Response:
    project = _project(request, current_user(request, required=False))
    return _job_listing(request, state_of(request).jobs_of(project))


@endpoint
async def get_job(request: web.Request) -> web.Response:
    job = _job(request, _project(request, current_user(request, required=False)))
    return api_json(entities.job(state_of(request), job, now_of(request)))


@endpoint
async def get_job_trace(request: web.Request) -> web.Response:
    """`GET …/jobs/:id/trace`: the whole log as text/plain (runner.go's lines, colours and
    section markers included), also while the job runs; empty before it started."""
    job = _job(request, _project(request, current_user(request, required=False)))
    state = state_of(request)
    body = bytes(job.trace)
    if not body and job.started_at is not None:
        # A job the sandbox did not watch run (a world that starts with it finished).
        ended = job.finished_at if job.status in FINISHED else None
        body = runnerlog.synthesized(job, state.runner_of(job), job.started_at, ended)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def _job_action(request: web.Request) -> tuple[User, Project, Job]:
    user = current_user(request)
    assert user is not None
    project = _project(request, user)
    job = _job(request, project)
    if project.archived:
        raise Abort(403)
    return user, project, job


@endpoint
async def cancel_job(request: web.Request) -> web.Response:
    state, now = state_of(request), now_of(request)
    _, _, job = _job_action(request)
    if job.status not in FINISHED:
        state.life.finish(job, "canceled", now)
    return api_json(entities.job(state, job, now), status=201)


@endpoint
async def retry_job(request: web.Request) -> web.Response:
    state, now = state_of(request), now_of(request)
    user, _, job = _job_action(request)
    if job.status not in ("failed", "canceled", "success"):
        raise Abort(403, "403 Forbidden  - Job is not retryable")
    clone = state.retry_job(job, user, now)
    return api_json(entities.job(state, clone, now), status=201)


def _pipeline_listing(request: web.Request, pipelines: list[Pipeline]) -> web.Response:
    state = state_of(request)
    statuses = _values(request, "status")
    _check(statuses, PIPELINE_STATUSES, "status")
    scope = request.query.get("scope")
    if scope is not None:
        _check([scope], PIPELINE_SCOPES, "scope")
    if statuses:
        pipelines = [p for p in pipelines if state.pipeline_status(p) in statuses]
    if scope in ("running", "pending"):
        pipelines = [p for p in pipelines if state.pipeline_status(p) == scope]
    elif scope == "finished":
        pipelines = [p for p in pipelines if state.pipeline_status(p) in FINISHED]
    elif scope == "tags":
        pipelines = []
    for key in ("username", "ref", "sha"):
        wanted = request.query.get(key)
        if wanted is not None:
            field = "user" if key == "username" else key
            pipelines = [p for p in pipelines if getattr(p, field) == wanted]
    pipelines.sort(key=lambda p: -p.id)
    return _listing(request, pipelines, lambda p: entities.pipeline_basic(state, p))


@endpoint
async def list_pipelines(request: web.Request) -> web.Response:
    state = state_of(request)
    project = _project(request, current_user(request, required=False))
    return _pipeline_listing(
        request, [p for p in state.pipelines.values() if p.project_id == project.id]
    )


def _pipeline(request: web.Request, project: Project) -> Pipeline:
    raw = request.match_info["pipeline_id"]
    if not is_number(raw):
        raise Abort(400, "pipeline_id is invalid", key="error")
    pipeline = state_of(request).pipelines.get(parse_id(raw))
    if pipeline is None or pipeline.project_id != project.id:
        raise Abort(404, "404 Not found")
    return pipeline


@endpoint
async def get_pipeline(request: web.Request) -> web.Response:
    state = state_of(request)
    pipeline = _pipeline(request, _project(request, current_user(request, required=False)))
    user = state.user(pipeline.user)
    return api_json(
        {
            **entities.pipeline_basic(state, pipeline),
            "user": entities.user_basic(state, user) if user else None,
        }
    )


@endpoint
async def list_pipeline_jobs(request: web.Request) -> web.Response:
    state = state_of(request)
    pipeline = _pipeline(request, _project(request, current_user(request, required=False)))
    return _job_listing(request, sorted(state.jobs_of_pipeline(pipeline), key=lambda j: -j.id))


@endpoint
async def ci_lint(request: web.Request) -> web.Response:
    """`GET /projects/:id/ci/lint` (`content_ref`, `include_jobs`): the project's CI
    configuration at a commit, checked; with its jobs (pipelines.py)."""
    from jobterm.sandbox.pipelines import lint

    project = _project(request, current_user(request))
    answer = lint(state_of(request), project, request.query.get("content_ref"))
    if request.query.get("include_jobs") not in ("true", "1"):
        answer.pop("jobs")
    return api_json(answer)


@endpoint
async def user_pipelines(request: web.Request) -> web.Response:
    """`GET /api/v4/pipelines` (newer GitLab): the current user's pipelines, every project."""
    state = state_of(request)
    if not state.settings.pipelines_api:
        raise Abort(404, key="error")
    user = current_user(request)
    assert user is not None
    visible = {p.id for p in state.visible_projects(user)}
    mine = [
        p for p in state.pipelines.values() if p.user == user.username and p.project_id in visible
    ]
    return _pipeline_listing(request, mine)


def add_routes(app: web.Application) -> None:
    router = app.router
    api = "/api/v4"
    project = api + "/projects/{id}"
    router.add_get(api + "/user", get_user)
    router.add_get(api + "/version", get_version)
    router.add_get(api + "/projects", list_projects)
    router.add_get(project, get_project)
    router.add_get(project + "/jobs", list_jobs)
    router.add_get(project + "/jobs/{job_id}", get_job)
    router.add_get(project + "/jobs/{job_id}/trace", get_job_trace)
    router.add_post(project + "/jobs/{job_id}/cancel", cancel_job)
    router.add_post(project + "/jobs/{job_id}/retry", retry_job)
    router.add_get(project + "/pipelines", list_pipelines)
    router.add_get(project + "/pipelines/{pipeline_id}", get_pipeline)
    router.add_get(project + "/pipelines/{pipeline_id}/jobs", list_pipeline_jobs)
    router.add_get(api + "/pipelines", user_pipelines)
    router.add_get(project + "/ci/lint", ci_lint)
