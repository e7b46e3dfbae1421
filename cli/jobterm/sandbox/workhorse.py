"""The job terminal `/<project path>/-/jobs/<id>/terminal.ws`, with GitLab Workhorse's semantics.

What a request meets, in Workhorse's order (spec sections 1 and 4):

1. Not a WebSocket upgrade: Workhorse routes only upgrades here; the request falls through
   to Rails, which has no such page (404; 302 to sign-in when signed out).
2. Rails' authorization (`.../terminal.ws/authorize`): the web session cookie only (a token
   is not enough): not signed in -> 302 to /users/sign_in; no terminal for this user and job
   (not running, not theirs, wrong project, archived, runner without session server) -> 404.
3. Dialing the runner: unreachable, or another terminal already attached (the runner says
   423) -> 500.
4. gorilla/websocket's upgrade: Origin host != Host -> 403; bad version or key -> 400;
   subprotocol in the server's order of preference; none offered -> unwrapped (binary).
5. The session (`terminal.py`): a new shell in a 0x0 PTY (`pty.py`) per connection, started
   where the job's executor starts it (`executors.py`).

How a session ends (section 6): the shell exits, the job ends, the session is signed out or
re-authorization fails, or the client sends invalid base64 -> the TCP connection is dropped
with no Close frame (the client sees 1006). The client sends Close -> Close 1000 is echoed and
EOT (0x04) is written to the shell, which then has EOT_GRACE seconds to exit before it is
killed. Terminal faults are set through the control API at the end of this file.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from jobterm.sandbox import executors, keys, lifecycle, pipelines, rails, runnerlog, script
from jobterm.sandbox.control import ControlError, add_control_route, body_of, job_of
from jobterm.sandbox.pty import PtyShell, ShellPool
from jobterm.sandbox.state import Job, SandboxState, User
from jobterm.sandbox.terminal import (
    SUBPROTOCOLS,
    Reauthorize,
    TerminalFaults,
    TerminalSession,
    choose_subprotocol,
)

log = logging.getLogger("jobterm.sandbox.workhorse")

STOP_STEP_SLOW = 5.0  # seconds a step of stopping may take before it is reported
ROUTE = r"/{project:.+}/-/jobs/{job_id:[0-9]+}/terminal.ws"

WORK_DIR = web.AppKey("sandbox_work_dir", Path)
LIFE = web.AppKey("sandbox_job_life", lifecycle.TimedJobLife)
DRIVER = web.AppKey("sandbox_job_life_driver", lifecycle.LifeDriver)
SCRIPTS = web.AppKey("sandbox_job_scripts", script.ScriptRunner)
# Terminal faults: key None = every job, a job id = that job (wins over None).
FAULTS: web.AppKey[dict[int | None, TerminalFaults]] = web.AppKey("sandbox_terminal_faults")

__all__ = ["SUBPROTOCOLS", "add_routes", "faults_for"]


def add_routes(app: web.Application, work_dir: Path | None = None) -> None:
    """Install the terminal route, the job life and the terminal control API on `app`."""
    state = app[keys.STATE]
    app[WORK_DIR] = work_dir or Path(tempfile.mkdtemp(prefix="jobterm-sandbox-"))
    app[keys.SHELL_POOL] = ShellPool(mark=f"HOME={executors.runner_home(app[WORK_DIR])}")
    app[FAULTS] = {}
    life = lifecycle.TimedJobLife(state)
    state.life = life
    life.sources = lambda job: _fetch_sources(app[WORK_DIR], state, job)
    pipelines.StageRunner(state)  # created jobs move on, stage after stage
    app[LIFE] = life
    app[DRIVER] = lifecycle.LifeDriver(life)
    app[SCRIPTS] = script.ScriptRunner(state, app[WORK_DIR])
    state.on_revoke(lambda username, ids: _drop_sessions(state, ids))
    app.router.add_get(ROUTE, terminal_ws, allow_head=False)
    # aiohttp warns when a client offers only subprotocols we do not speak; Workhorse just
    # answers without one, and so do we, quietly.
    logging.getLogger("aiohttp.websocket").addFilter(_quiet_no_overlap)
    add_control_route(app, "POST", "/jobs/{job_id}/terminal/drop", _drop_terminal)
    add_control_route(app, "PUT", "/terminal/faults", _put_faults)
    add_control_route(app, "PUT", "/jobs/{job_id}/terminal/faults", _put_faults)
    add_control_route(app, "DELETE", "/terminal/faults", _clear_faults)
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)


async def _startup(app: web.Application) -> None:
    app[DRIVER].start()
    app[SCRIPTS].start()


async def _shutdown(app: web.Application) -> None:
    # Before aiohttp waits for running handlers: a terminal's handler runs until it drops.
    await _stop_step("the job life", app[DRIVER].stop())
    await _stop_step("the job scripts", app[SCRIPTS].stop())
    for job in app[keys.STATE].jobs.values():
        if job.terminal is not None:
            job.terminal.drop("sandbox stopping")


async def _cleanup(app: web.Application) -> None:
    await _shutdown(app)
    await _stop_step("the terminal shells", app[keys.SHELL_POOL].close_all())
    shutil.rmtree(app[WORK_DIR], ignore_errors=True)


async def _stop_step(what: str, stopping: Coroutine[Any, Any, None]) -> None:
    """Await one step of stopping; one that is slow says so, so that a hang names its step."""
    task = asyncio.ensure_future(stopping)
    try:
        await asyncio.wait({task}, timeout=STOP_STEP_SLOW)
        if not task.done():
            log.warning("stopping: %s still not stopped after %g s", what, STOP_STEP_SLOW)
        await asyncio.wait({task})
    except asyncio.CancelledError:
        task.cancel()
        raise
    task.result()


def _quiet_no_overlap(record: logging.LogRecord) -> bool:
    return "overlap" not in str(record.msg)


def _drop_sessions(state: SandboxState, session_ids: frozenset[str]) -> None:
    """Signed out or revoked: the terminals opened with those sessions drop."""
    for job in state.jobs.values():
        terminal = job.terminal
        if isinstance(terminal, TerminalSession) and terminal.session_id in session_ids:
            terminal.drop("session signed out")


def faults_for(app: web.Application, job: Job) -> TerminalFaults:
    faults = app[FAULTS]
    return faults.get(job.id) or faults.get(None) or TerminalFaults()


# -- the handshake ---------------------------------------------------------------------------


def _is_upgrade(request: web.Request) -> bool:
    # Workhorse routes only WebSocket upgrades here (gorilla's IsWebSocketUpgrade).
    connection = request.headers.get("Connection", "").lower()
    upgrade = request.headers.get("Upgrade", "").lower()
    return "upgrade" in connection and "websocket" in upgrade


def _text(status: int, body: str, **headers: str) -> web.Response:
    # Workhorse's and gorilla's own answers: http.Error's plain text.
    return web.Response(status=status, text=body + "\n", headers=headers)


def _not_found() -> web.Response:
    return rails.html_error(404)


def _sign_in_redirect(request: web.Request) -> web.Response:
    return rails.redirect(request, "/users/sign_in")


def _origin_ok(request: web.Request) -> bool:
    """gorilla/websocket's checkSameOrigin: no Origin, or its host equals Host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        host = urlsplit(origin).netloc.rpartition("@")[2]  # Go's URL.Host has no userinfo
    except ValueError:
        return False
    return host.lower() == request.headers.get("Host", "").lower()


def _authorize(request: web.Request) -> tuple[User, str, Job] | web.Response:
    """Rails' terminal_websocket_authorize: (user, session id, job) or the answer to send."""
    state = request.app[keys.STATE]
    now = state.clock()
    auth = state.authenticate_cookies(request.cookies, now)
    if auth.user is None or auth.session is None:
        return _sign_in_redirect(request)
    project = state.find_project(request.match_info["project"])
    job = state.find_job(project, request.match_info["job_id"]) if project else None
    if job is None:
        return _not_found()
    reason = state.terminal_denial(auth.user, job)
    if reason is None and now < (job.started_at or 0.0) + state.settings.terminal_ready_after:
        reason = "the runner's session is not up yet"  # Rails: no runner session URL yet
    if reason is not None:
        log.info("terminal of job %s refused: %s", job.id, reason)
        return _not_found()
    return auth.user, auth.session.id, job


def _gorilla_checks(request: web.Request) -> web.Response | None:
    if not _origin_ok(request):
        return _text(403, "Forbidden", **{"Sec-WebSocket-Version": "13"})
    if request.headers.get("Sec-WebSocket-Version") != "13":
        return _text(400, "Bad Request", **{"Sec-WebSocket-Version": "13"})
    key = request.headers.get("Sec-WebSocket-Key", "")
    try:
        key_length = len(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError):
        key_length = 0
    if key_length != 16:
        return _text(400, "Bad Request")
    return None


async def terminal_ws(request: web.Request) -> web.StreamResponse:
    if not _is_upgrade(request):
        return await rails.any_page(request)  # not Workhorse's: Rails has no such page
    authorized = _authorize(request)
    if isinstance(authorized, web.Response):
        return authorized
    _user, session_id, job = authorized
    app = request.app
    faults = faults_for(app, job)
    if faults.runner_unreachable or job.terminal is not None:
        # Workhorse dials the runner first: 423 Locked (busy) or no answer become 500.
        return _text(500, "Internal server error")
    refused = _gorilla_checks(request)
    if refused is not None:
        return refused
    protocol = choose_subprotocol(request.headers.getall("Sec-WebSocket-Protocol", []))
    state = app[keys.STATE]
    session = TerminalSession(
        job=job,
        session_id=session_id,
        protocol=protocol,
        faults=faults,
        settings=state.settings,
        on_detach=lambda job: app[LIFE].detached(job, state.clock()),
    )
    job.terminal = session  # claimed before any await: a second connection gets 500
    try:
        shell = await _start_shell(app, job)
        if shell is None:
            return _text(500, "Internal server error")  # the runner could not start one
        try:
            return await session.serve(request, shell, reauthorize=_reauthorizer(request))
        finally:
            await app[keys.SHELL_POOL].release(shell)
    finally:
        session.detach()


async def _start_shell(app: web.Application, job: Job) -> PtyShell | None:
    """The runner's terminal: a new shell where the job's executor starts it."""
    state = app[keys.STATE]
    if not await _container_running(state, job):
        log.info("terminal of job %s: timeout for waiting for build container", job.id)
        return None
    place = executors.terminal_place(app[WORK_DIR], state, job)
    try:
        shell: PtyShell = await app[keys.SHELL_POOL].start(
            job.shell or ["bash", "-l"], cwd=place.cwd, env=place.env
        )
    except OSError as exc:
        log.warning("terminal of job %s: cannot start %s: %s", job.id, job.shell, exc)
        return None
    return shell


async def _container_running(state: SandboxState, job: Job) -> bool:
    """executors/docker/terminal.go: the terminal waits (polling each second, up to
    CONTAINER_WAIT) for the build container, which runs once the runner has prepared the
    job; the shell and kubernetes executors do not wait."""
    if executors.executor_of(state, job) != "docker":
        return True
    deadline = state.clock() + executors.CONTAINER_WAIT
    while True:
        started = job.started_at if job.started_at is not None else state.clock()
        if job.status == "running" and state.clock() >= started + state.settings.prepare_seconds:
            return True
        if job.status != "running" or state.clock() >= deadline:
            return False
        await asyncio.sleep(min(1.0, max(deadline - state.clock(), 0.01)))


def _fetch_sources(work_dir: Path, state: SandboxState, job: Job) -> runnerlog.Sources:
    directory = executors.build_dir(work_dir, state, job)
    pipeline = state.pipelines.get(job.pipeline_id)
    sha = pipeline.sha if pipeline is not None else "0" * 40
    return runnerlog.Sources(str(directory), executors.fetch_sources(directory), sha)


def _reauthorizer(request: web.Request) -> Reauthorize:
    """What Workhorse's re-authorization loop asks Rails: may this terminal stay open?"""
    state = request.app[keys.STATE]
    cookies = dict(request.cookies)

    def still_allowed(job: Job, session_id: str) -> bool:
        session = state.session(session_id, state.clock())
        user = state.user(session.user) if session is not None and session.user else None
        if user is None:
            auth = state.authenticate_cookies(cookies, state.clock())
            user = auth.user
        return user is not None and state.terminal_denial(user, job) is None

    return still_allowed


# -- control API (see control.py): terminal drops and faults ---------------------------------
#
#   POST   /-/sandbox/jobs/{id}/terminal/drop     the attached terminal drops (no Close frame)
#   PUT    /-/sandbox/terminal/faults             {"silent": true, ...}: faults of every job
#   PUT    /-/sandbox/jobs/{id}/terminal/faults   faults of one job (win over the above)
#   DELETE /-/sandbox/terminal/faults             no faults anywhere


async def _drop_terminal(request: web.Request) -> web.StreamResponse:
    job = job_of(request)
    attached = job.terminal is not None
    if job.terminal is not None:
        job.terminal.drop("dropped by the control API")
    return web.json_response({"id": job.id, "dropped": attached})


async def _put_faults(request: web.Request) -> web.StreamResponse:
    try:
        faults = TerminalFaults.from_dict(await body_of(request))
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    job_id = job_of(request).id if "job_id" in request.match_info else None
    request.app[FAULTS][job_id] = faults
    return web.json_response(faults.to_dict())


async def _clear_faults(request: web.Request) -> web.StreamResponse:
    request.app[FAULTS].clear()
    return web.json_response({})
