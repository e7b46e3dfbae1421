"""What GitLab's Rails app answers, minus the terminal: helpers shared by the web handlers,
the HTML pages and web job JSON, and the route table (`add_routes`).

Sign-in lives in `signin.py`, the REST API in `rest.py`, the control API in `control.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import struct
from typing import Any

from aiohttp import web

from jobterm.sandbox import entities, pages
from jobterm.sandbox.keys import RENEWED, STATE
from jobterm.sandbox.model import same_secret
from jobterm.sandbox.state import (
    KNOWN_SIGN_IN_COOKIE,
    REMEMBER_COOKIE,
    CookieAuth,
    Fault,
    SandboxState,
    Session,
)

__all__ = ["RENEWED", "STATE"]

API_MESSAGES = {
    400: "400 Bad request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    422: "422 Unprocessable Entity",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
}


def state_of(request: web.Request) -> SandboxState:
    return request.app[STATE]


def now_of(request: web.Request) -> float:
    return request.app[STATE].clock()


def origin(request: web.Request) -> str:
    """scheme://host:port the client used (redirects point back to it, as Rails' do)."""
    return f"{request.scheme}://{request.host}"


def api_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(data, separators=(",", ":")),  # compact, as GitLab's
        status=status,
        content_type="application/json",
        headers=headers,
    )


def api_error(status: int, message: str | None = None, *, key: str = "message") -> web.Response:
    """GitLab's error bodies: {"message": "404 Project Not Found"}; unknown routes and
    invalid parameters use the key "error" ({"error": "404 Not Found"})."""
    return api_json({key: message or API_MESSAGES.get(status, f"{status} Error")}, status)


def html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=headers
    )


def html_error(status: int) -> web.Response:
    return html(pages.error_page(status), status)


def redirect(request: web.Request, path: str) -> web.Response:
    return web.Response(status=302, headers={"Location": origin(request) + path})


def reset_connection(request: web.Request) -> None:
    """Drop the client's connection with a TCP reset (linger 0), before any answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


TRICKLE_INTERVAL = 0.2  # seconds between the bytes of a "trickle" fault's answer
TRICKLE_FOR = 600.0  # and how long it goes on, at most


async def trickle(request: web.Request) -> web.StreamResponse:
    """A 200 whose body comes a byte at a time and never ends (within TRICKLE_FOR), as a
    stuck proxy or a hostile server sends it: every read gets a byte before it times out."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    end = loop.time() + TRICKLE_FOR
    with contextlib.suppress(ConnectionError):
        await response.write(b"[")
        while loop.time() < end:
            await asyncio.sleep(TRICKLE_INTERVAL)
            await response.write(b" ")
    return response


def fault_response(state: SandboxState, fault: Fault) -> web.Response:
    if fault.kind == "rate_limit":
        return web.Response(
            status=429,
            text="Retry later\n",
            content_type="text/plain",
            headers={"Retry-After": str(fault.retry_after)},
        )
    if fault.kind == "html":
        body = pages.layout("Maintenance", "<h1>GitLab is undergoing maintenance</h1>")
        return html(body)
    if fault.kind == "bot_challenge":
        # What a CDN's bot check in front of GitLab answers: no GitLab page at all.
        return html(pages.bot_challenge(), 403, headers={"cf-mitigated": "challenge"})
    if fault.kind == "sign_in_redirect":
        return web.Response(status=302, headers={"Location": state.base_url + "/users/sign_in"})
    return api_error(fault.status, fault.message)


# -- cookies and sessions --------------------------------------------------------------------


def set_session_cookie(state: SandboxState, response: web.StreamResponse, session_id: str) -> None:
    """No Expires: a browser-session cookie, as GitLab's; the server decides when it ends."""
    response.set_cookie(
        state.settings.session_cookie,
        session_id,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_https(state),
    )


def set_sign_in_cookies(
    state: SandboxState, response: web.StreamResponse, session: Session, remember: str | None
) -> None:
    set_session_cookie(state, response, session.id)
    if remember is not None:
        response.set_cookie(
            REMEMBER_COOKIE,
            remember,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=_https(state),
            max_age=int(state.settings.remember_me_duration),
        )
    response.set_cookie(
        KNOWN_SIGN_IN_COOKIE,
        secrets.token_urlsafe(24),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_https(state),
        max_age=int(state.settings.known_sign_in_duration),
    )


def _https(state: SandboxState) -> bool:
    """Rails marks its cookies Secure when served over HTTPS."""
    return state.base_url.startswith("https://")


def web_auth(request: web.Request) -> CookieAuth:
    """The request's signed-in user from its cookies; a session renewed from remember-me
    gets its cookie set by the `renewed_session` middleware."""
    state = state_of(request)
    auth = state.authenticate_cookies(request.cookies, now_of(request))
    if auth.renewed and auth.session is not None:
        request[RENEWED] = auth.session.id
    return auth


def csrf_ok(session: Session | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return same_secret(token, session.csrf_token)


# -- pages -----------------------------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    state = state_of(request)
    auth = web_auth(request)
    if auth.user is None or auth.session is None:
        return redirect(request, "/users/sign_in")
    listing = [
        (p.path_with_namespace, f"/{p.path_with_namespace}")
        for p in state.visible_projects(auth.user)
    ]
    return html(pages.dashboard(auth.session.csrf_token, auth.user.username, listing))


async def web_job_json(request: web.Request) -> web.Response:
    """`GET /<project>/-/jobs/<id>.json`: session only (a token is not looked at)."""
    state = state_of(request)
    auth = web_auth(request)
    if auth.user is None:
        return api_json({"error": "You need to sign in or sign up before continuing."}, 401)
    project = state.find_project(request.match_info["project"])
    if project is None or not state.is_member(auth.user, project):
        return api_error(404, "404 Not Found")
    job = state.find_job(project, request.match_info["job_id"])
    if job is None:
        return api_error(404, "404 Not Found")
    return api_json(entities.web_job(state, job, auth.user, now_of(request)))


async def job_page(request: web.Request) -> web.Response:
    """The job's HTML page (and its /terminal page): carries the CSRF meta tag."""
    state = state_of(request)
    auth = web_auth(request)
    if auth.user is None or auth.session is None:
        return redirect(request, "/users/sign_in")
    project = state.find_project(request.match_info["project"])
    job = state.find_job(project, request.match_info["job_id"]) if project else None
    if project is None or job is None or not state.is_member(auth.user, project):
        return html_error(404)
    page = pages.job_page(
        auth.session.csrf_token, project.path_with_namespace, job.id, job.name, job.status
    )
    return html(page)


async def any_page(request: web.Request) -> web.Response:
    """Every other page: signed out -> sign in first (GitLab does not say what exists)."""
    auth = web_auth(request)
    if auth.user is None:
        return redirect(request, "/users/sign_in")
    return html_error(404)


async def api_not_found(request: web.Request) -> web.Response:
    """No route: 405 when the path exists for another method (as Grape answers), else 404."""
    catch_all = request.match_info.route.resource
    for resource in request.app.router.resources():
        if resource is catch_all or not resource.canonical.startswith("/api/"):
            continue
        match, allowed = await resource.resolve(request)
        if match is None and allowed:
            return api_error(405, "405 Not Allowed", key="error")
    return api_error(404, key="error")


def add_routes(app: web.Application) -> None:
    """Pages and the catch-alls: register last (after sign-in, REST and control routes)."""
    router = app.router
    router.add_route("*", "/api/{tail:.*}", api_not_found)
    router.add_get("/", dashboard)
    router.add_get("/dashboard/projects", dashboard)
    job = r"/{project:[^-].*?}/-/jobs/{job_id:\d+}"
    router.add_get(job + ".json", web_job_json)
    router.add_get(job, job_page)
    router.add_get(job + "/terminal", job_page)
    router.add_get("/{tail:.*}", any_page)
