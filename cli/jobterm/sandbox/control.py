"""The sandbox's control API, `/-/sandbox/…`, for tests and demos (not part of GitLab).

Every route needs the admin token `jobterm sandbox --json` prints, in `X-Sandbox-Token`.
Bodies are JSON; answers are JSON. Add a route from another module with
`add_control_route(app, "POST", "/jobs/{job_id}/something", handler)`: the handler gets the
request after the token check, and may raise `ControlError(status, message)`.

    GET    /-/sandbox/state                       what --json printed, as it is now
    GET    /-/sandbox/jobs/{id}                   a job (and its life, if the life says)
    POST   /-/sandbox/jobs/{id}/start             pending -> running now
    POST   /-/sandbox/jobs/{id}/end-script        {"status"?}: the script ends now
    POST   /-/sandbox/jobs/{id}/finish            {"status": success|failed|canceled}
    POST   /-/sandbox/pipelines                   {"project", "ref", "user", "stages"?,
                                                  "jobs": [[jobs] entries]}: as a push
    GET    /-/sandbox/users/{name}                incl. verification_code, failed_attempts
    POST   /-/sandbox/users/{name}/expire-sessions   {"remember_tokens": false}
    POST   /-/sandbox/users/{name}/unlock
    PATCH  /-/sandbox/settings                    {"pipelines_api": false, ...}
    GET    /-/sandbox/faults                      the faults, `times` = how many are left
    POST   /-/sandbox/faults                      {"kind": "rate_limit", "times": 1, ...}
    DELETE /-/sandbox/faults
    POST   /-/sandbox/clock                       {"advance": seconds}: move the clock on
    GET    /-/sandbox/requests                    the requests clients made, oldest first
    DELETE /-/sandbox/requests                    forget them (count from here on)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from jobterm.errors import ConfigError
from jobterm.sandbox import entities
from jobterm.sandbox.config import make_fault
from jobterm.sandbox.model import parse_id, same_secret
from jobterm.sandbox.rails import api_json, now_of, state_of
from jobterm.sandbox.state import FINISHED, Job, SandboxState, User

PREFIX = "/-/sandbox"
TOKEN_HEADER = "X-Sandbox-Token"  # noqa: S105 - a header name, not a secret

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def admin_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(TOKEN_HEADER, "")
        if not same_secret(given, state_of(request).admin_token):
            return api_json(
                {"message": f"401 Unauthorized: send the admin token in {TOKEN_HEADER}"}, 401
            )
        try:
            return await handler(request)
        except ControlError as exc:
            return api_json({"message": exc.message}, exc.status)

    return wrapper


def add_control_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    app.router.add_route(method, PREFIX + path, admin_only(handler))


_ROUTES: list[tuple[str, str, Handler]] = []  # this module's, in the order of the docstring


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Mark a handler of this module as the control route `method PREFIX+path`."""

    def mark(handler: Handler) -> Handler:
        _ROUTES.append((method, path, handler))
        return handler

    return mark


async def body_of(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ControlError(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def job_of(request: web.Request) -> Job:
    raw = request.match_info.get("job_id", "")
    job = state_of(request).jobs.get(parse_id(raw))
    if job is None:
        raise ControlError(404, f"no job {raw}")
    return job


def user_of(request: web.Request) -> User:
    name = request.match_info.get("username", "")
    user = state_of(request).user(name)
    if user is None:
        raise ControlError(404, f"no user {name}")
    return user


def summary(state: SandboxState) -> dict[str, Any]:
    """What `jobterm sandbox --json` prints: URL, admin token, credentials, jobs."""
    return {
        "url": state.base_url,
        "admin_token": state.admin_token,
        "users": [user_summary(u) for u in state.users.values()],
        "projects": [
            {
                "id": p.id,
                "path": p.path_with_namespace,
                "archived": p.archived,
                "members": p.members,
            }
            for p in state.projects.values()
        ],
        "jobs": [job_summary(state, j) for j in sorted(state.jobs.values(), key=lambda j: j.id)],
    }


def user_summary(user: User) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "password": user.password,
        "token": user.token,
        "name": user.name,
        "email": user.email,
        "ldap": user.ldap,
        "email_verification": user.email_verification,
    }
    if user.totp_secret is not None:
        result["totp_secret"] = user.totp_secret
        result["recovery_codes"] = list(user.recovery_codes)
    if user.email_verification:
        result["verification_code"] = user.verification_code
    return result


def job_summary(state: SandboxState, job: Job) -> dict[str, Any]:
    runner = state.runner_of(job)
    return {
        "id": job.id,
        "name": job.name,
        "project": state.project_of(job).path_with_namespace,
        "project_id": job.project_id,
        "status": job.status,
        "user": job.user,
        "web_url": state.job_web_url(job),
        "shell": job.shell,
        "session_server": bool(runner and runner.session_server),
        "runner_type": runner.runner_type if runner else None,
    }


@route("GET", "/state")
async def get_state(request: web.Request) -> web.StreamResponse:
    return api_json(summary(state_of(request)))


@route("GET", "/jobs/{job_id}")
async def get_job(request: web.Request) -> web.StreamResponse:
    state, job = state_of(request), job_of(request)
    result = {**job_summary(state, job), "rest": entities.job(state, job, now_of(request))}
    result["terminal_attached"] = job.terminal is not None
    result["held_for_terminal"] = job.held_for_terminal
    describe = getattr(state.life, "describe", None)
    if describe is not None:
        result["life"] = describe(job)
    return api_json(result)


@route("POST", "/jobs/{job_id}/start")
async def start_job(request: web.Request) -> web.StreamResponse:
    state, job = state_of(request), job_of(request)
    if job.status not in ("pending", "created"):
        raise ControlError(409, f"job {job.id} is {job.status}, not pending")
    state.life.start(job, now_of(request))
    return api_json(job_summary(state, job))


@route("POST", "/jobs/{job_id}/end-script")
async def end_script(request: web.Request) -> web.StreamResponse:
    state, job = state_of(request), job_of(request)
    status = (await body_of(request)).get("status")
    if status is not None and status not in ("success", "failed"):
        raise ControlError(400, "status must be success or failed")
    if job.status != "running" or job.script_ended_at is not None:
        raise ControlError(409, f"job {job.id} is {job.status}; its script is not running")
    state.life.end_script(job, now_of(request), status)
    return api_json(job_summary(state, job))


@route("POST", "/jobs/{job_id}/finish")
async def finish_job(request: web.Request) -> web.StreamResponse:
    state, job = state_of(request), job_of(request)
    status = (await body_of(request)).get("status", "success")
    if status not in FINISHED:
        raise ControlError(400, f"status must be one of {', '.join(sorted(FINISHED))}")
    state.life.finish(job, status, now_of(request))
    return api_json(job_summary(state, job))


@route("POST", "/pipelines")
async def create_pipeline(request: web.Request) -> web.StreamResponse:
    """A new pipeline, as a push makes one (pipelines.py): its first stage pending."""
    from jobterm.sandbox.pipelines import new_pipeline

    state = state_of(request)
    try:
        pipeline = new_pipeline(state, await body_of(request), now_of(request))
    except (ValueError, TypeError, ConfigError) as exc:
        raise ControlError(400, str(getattr(exc, "message", exc))) from None
    jobs = [j.id for j in state.jobs_of_pipeline(pipeline)]
    return api_json({"id": pipeline.id, "sha": pipeline.sha, "ref": pipeline.ref, "jobs": jobs})


@route("GET", "/users/{username}")
async def get_user(request: web.Request) -> web.StreamResponse:
    state, user = state_of(request), user_of(request)
    sessions = [s for s in state.sessions.values() if s.user == user.username]
    return api_json(
        {
            **user_summary(user),
            "verification_code": user.verification_code,
            "failed_attempts": user.failed_attempts,
            "locked": user.locked,
            "sessions": len(sessions),
            "remember_tokens": sum(r.user == user.username for r in state.remember_tokens.values()),
        }
    )


@route("POST", "/users/{username}/expire-sessions")
async def expire_sessions(request: web.Request) -> web.StreamResponse:
    state, user = state_of(request), user_of(request)
    remember = bool((await body_of(request)).get("remember_tokens", False))
    dead = state.revoke_sessions(user, remember_tokens=remember)
    return api_json({"expired": len(dead)})


@route("POST", "/users/{username}/unlock")
async def unlock_user(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    user.locked, user.locked_at, user.failed_attempts = False, None, 0
    return api_json(user_summary(user))


@route("PATCH", "/settings")
async def patch_settings(request: web.Request) -> web.StreamResponse:
    settings = state_of(request).settings
    names = {f.name for f in dataclasses.fields(settings)} - {"faults"}
    changes = await body_of(request)
    for key, value in changes.items():
        current = getattr(settings, key, None)
        if key not in names or (
            type(value) is not type(current)
            and not (isinstance(current, float) and type(value) is int)
        ):
            raise ControlError(400, f"cannot set {key} to {value!r}")
    for key, value in changes.items():
        setattr(settings, key, value)
    return api_json({k: getattr(settings, k) for k in sorted(names)})


@route("POST", "/faults")
async def add_fault(request: web.Request) -> web.StreamResponse:
    settings = state_of(request).settings
    try:
        fault = make_fault(await body_of(request))
    except ConfigError as exc:
        raise ControlError(400, exc.message) from None
    settings.faults.append(fault)
    return api_json([dataclasses.asdict(f) for f in settings.faults], 201)


@route("GET", "/faults")
async def list_faults(request: web.Request) -> web.StreamResponse:
    return api_json([dataclasses.asdict(f) for f in state_of(request).settings.faults])


@route("DELETE", "/faults")
async def clear_faults(request: web.Request) -> web.StreamResponse:
    state_of(request).settings.faults.clear()
    return api_json([])


@route("POST", "/clock")
async def advance_clock(request: web.Request) -> web.StreamResponse:
    """Move the sandbox clock on (sessions, remember-me, job timers) without waiting."""
    state = state_of(request)
    advance = (await body_of(request)).get("advance")
    if not isinstance(advance, (int, float)) or advance < 0:
        raise ControlError(400, "advance must be a number of seconds >= 0")
    offset = state.clock() - time.time() + float(advance)
    state.clock = lambda: time.time() + offset
    return api_json({"now": state.clock()})


@route("GET", "/requests")
async def get_requests(request: web.Request) -> web.StreamResponse:
    """What clients asked, in order: method, path (no query, no headers) and whether it was
    a WebSocket upgrade. Tests count the requests a command makes with it."""
    return api_json({"requests": state_of(request).journal})


@route("DELETE", "/requests")
async def clear_requests(request: web.Request) -> web.StreamResponse:
    state_of(request).journal.clear()
    return api_json({"requests": []})


def add_routes(app: web.Application) -> None:
    for method, path, handler in _ROUTES:
        add_control_route(app, method, path, handler)
