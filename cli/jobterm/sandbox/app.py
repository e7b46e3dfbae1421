"""The sandbox's aiohttp application: route table, middlewares, start and stop.

    build_app(state) -> web.Application      routes of Rails (sign-in, pages, REST, control)
                                             and, when present, Workhorse's terminal.ws
    await start(state, port=0) -> Sandbox    bound to 127.0.0.1 only; .url, await .stop()
    await serve(state, port, announce)        start, announce, serve until SIGINT/SIGTERM

Middlewares, outermost first: `journal` notes each client request (not the control API's)
so tests can count them, `errors` turns any failure into GitLab's answer (JSON under
/api/, a plain page elsewhere; never a traceback), `faults` injects the configured REST
faults, `renewed_session` sets the new `_gitlab_session` cookie when a request was
authenticated from a remember-me token.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from jobterm.errors import JobtermError
from jobterm.sandbox import control, keys, rails, rest, signin
from jobterm.sandbox.state import SandboxState

log = logging.getLogger("jobterm.sandbox")

HOST = "127.0.0.1"

Handler = Any  # aiohttp's middleware handler type


#: The journal keeps the newest requests only: a long demo must not grow without bound.
JOURNAL_SIZE = 1000


@web.middleware
async def journal(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(control.PREFIX + "/"):
        entries = request.app[keys.STATE].journal
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        entries.append({"method": request.method, "path": request.path, "websocket": upgrade})
        del entries[:-JOURNAL_SIZE]
    response: web.StreamResponse = await handler(request)
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or exc.status == 413:
            raise
        if request.path.startswith("/api/"):
            return rails.api_error(exc.status)
        # Rails has no route for a wrong method: a 404 page, not aiohttp's 405 text.
        return rails.html_error(404 if exc.status == 405 else exc.status)
    except Exception:
        log.exception("sandbox: error while answering %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return rails.api_error(500)
        return rails.html_error(500)


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[keys.STATE]
    for fault in state.settings.faults:
        if not request.path.startswith(fault.path) or fault.times == 0:
            continue
        if fault.method is not None and fault.method.upper() != request.method:
            continue
        if fault.times is not None:
            fault.times -= 1
        if fault.kind == "reset":
            rails.reset_connection(request)
        if fault.kind == "trickle":
            return await rails.trickle(request)
        return rails.fault_response(state, fault)
    response: web.StreamResponse = await handler(request)
    return response


@web.middleware
async def renewed_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    session_id = request.get(keys.RENEWED)
    if session_id and not response.prepared:
        rails.set_session_cookie(request.app[keys.STATE], response, session_id)
    return response


def build_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[journal, errors, faults, renewed_session])
    app[keys.STATE] = state
    # The terminal side registers first: its route (…/-/jobs/<id>/terminal.ws) must win
    # over Rails' catch-all pages. It may also install the job life (state.life) there.
    workhorse = _optional_module("jobterm.sandbox.workhorse")
    if workhorse is not None:
        workhorse.add_routes(app)
    signin.add_routes(app)
    rest.add_routes(app)
    control.add_routes(app)
    rails.add_routes(app)
    app.on_cleanup.append(_close_shells)
    return app


def _optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


async def _close_shells(app: web.Application) -> None:
    """Every shell the terminal side started ends with the server."""
    pool = app.get(keys.SHELL_POOL)
    if pool is not None:
        await pool.close_all()


@dataclass
class Sandbox:
    """A running sandbox server."""

    state: SandboxState
    runner: web.AppRunner
    url: str

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(
    state: SandboxState, port: int = 0, ssl_context: ssl.SSLContext | None = None
) -> Sandbox:
    """Serve `state` on 127.0.0.1:`port` (0: a free port); HTTPS when given `ssl_context`."""
    app = build_app(state)
    # Handlers still running 3 s into a shutdown are cancelled: stopping must not hang.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=3.0)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, reuse_address=True, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    scheme = "https" if ssl_context is not None else "http"
    state.base_url = f"{scheme}://{HOST}:{bound_port}"
    return Sandbox(state, runner, state.base_url)


async def serve(
    state: SandboxState,
    port: int,
    announce: Callable[[Sandbox], None],
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve until SIGINT, SIGTERM or SIGHUP, then stop (every shell ends with the server)."""
    try:
        sandbox = await start(state, port, ssl_context)
    except OSError as exc:
        raise JobtermError(
            f"cannot listen on {HOST}:{port}: {exc.strerror or exc}",
            "pick another port with --port, or --port 0 for a free one",
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        announce(sandbox)
        await stop.wait()
    finally:
        try:
            await sandbox.stop()  # a second Ctrl-C meanwhile must not cut the cleanup short
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
