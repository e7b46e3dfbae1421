"""Keys of what the sandbox's aiohttp application holds (shared by Rails and Workhorse)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from jobterm.sandbox.state import SandboxState

STATE = web.AppKey("sandbox_state", SandboxState)
# The terminal side's shell pool: anything with `async close_all()`, called on cleanup so
# every shell the sandbox started ends with it.
SHELL_POOL: web.AppKey[Any] = web.AppKey("sandbox_shell_pool")

# request[RENEWED] = a session id created from a remember-me token: set it as the cookie.
RENEWED = "sandbox_renewed_session"
