"""Plain-client helpers for the sandbox terminal tests (websockets' sync client, never jobterm's).

`ThreadedSandbox` serves a real sandbox on 127.0.0.1 port 0 from an event loop in a thread,
so tests can use blocking clients; `call()` runs a function in the server's loop (the state
is not thread-safe).
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from util import scaled

T = TypeVar("T")

BINARY = "terminal.gitlab.com"
BASE64 = "base64.terminal.gitlab.com"


class ThreadedSandbox:
    def __init__(self, config: dict[str, Any] | None = None) -> None:
        from jobterm.sandbox.app import start
        from jobterm.sandbox.config import build_state

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.state = build_state(config, now=time.time())
        self.sandbox = self.run(start(self.state))
        self.url = self.sandbox.url
        self.ws_url = self.url.replace("http://", "ws://")

    def run(self, coro: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(scaled(timeout))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        async def wrapper() -> T:
            return fn(*args)

        result: T = self.run(wrapper())
        return result

    def app(self) -> Any:
        return self.sandbox.runner.app

    def cookie_for(self, username: str) -> str:
        """A signed-in `_gitlab_session` for `username` (the sign-in flow is tested elsewhere)."""

        def sign_in() -> str:
            user = self.state.user(username)
            assert user is not None
            session, _ = self.state.sign_in(None, user, False, self.state.clock())
            return session.id

        return f"{self.state.settings.session_cookie}={self.call(sign_in)}"

    def terminal_url(self, job_id: int) -> str:
        job = self.state.jobs[job_id]
        path = self.state.projects[job.project_id].path_with_namespace
        return f"{self.ws_url}/{path}/-/jobs/{job_id}/terminal.ws"

    def attached(self, job_id: int) -> bool:
        return self.call(lambda: self.state.jobs[job_id].terminal is not None)

    def wait_detached(self, job_id: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while self.attached(job_id):
            assert time.monotonic() < deadline, f"job {job_id} still has a terminal"
            time.sleep(0.02)

    def wait_status(self, job_id: int, status: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while self.call(lambda: self.state.jobs[job_id].status) != status:
            assert time.monotonic() < deadline, f"job {job_id} never became {status}"
            time.sleep(0.02)

    def control(self, method: str, path: str, json: Any = None) -> Any:
        """The control API (/-/sandbox/...), with the admin token."""
        import httpx

        response = httpx.request(
            method,
            f"{self.url}/-/sandbox{path}",
            json=json,
            headers={"X-Sandbox-Token": self.state.admin_token},
            timeout=scaled(10),
        )
        assert response.status_code < 300, response.text
        return response.json()

    def stop(self) -> None:
        self.run(self.sandbox.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(scaled(10))
        self.loop.close()


@contextmanager
def serving(config: dict[str, Any] | None = None) -> Iterator[ThreadedSandbox]:
    server = ThreadedSandbox(config)
    try:
        yield server
    finally:
        server.stop()


def open_terminal(
    url: str,
    cookie: str | None,
    subprotocols: Sequence[str] | None = (BINARY,),
    headers: dict[str, str] | None = None,
    origin: str | None = None,
    **kwargs: Any,
) -> ClientConnection:
    extra = dict(headers or {})
    if cookie is not None:
        extra["Cookie"] = cookie
    return connect(
        url,
        subprotocols=list(subprotocols) if subprotocols else None,  # type: ignore[misc]
        additional_headers=extra,
        origin=origin,  # type: ignore[arg-type]
        compression=None,
        proxy=None,
        open_timeout=scaled(10),
        ping_interval=None,
        **kwargs,
    )


def handshake(
    url: str,
    cookie: str | None,
    subprotocols: Sequence[str] = (BINARY,),
    headers: dict[str, str] | None = None,
) -> Any:
    """The handshake's HTTP answer, through a plain HTTP client (redirects not followed)."""
    import httpx

    extra = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        **(headers or {}),
    }
    if subprotocols:
        extra["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
    if cookie is not None:
        extra["Cookie"] = cookie
    with httpx.Client(timeout=scaled(10)) as client:
        return client.get(url.replace("ws://", "http://"), headers=extra)


class Reader:
    """Reads a terminal's output (either framing) until a pattern shows up."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.output = b""

    def frame(self, timeout: float = 10) -> bytes:
        message = self.ws.recv(timeout=scaled(timeout))
        if self.ws.subprotocol == BASE64:
            assert isinstance(message, str)
            return base64.b64decode(message)
        assert isinstance(message, bytes), f"text frame on {self.ws.subprotocol}"
        return message

    def until(self, pattern: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + scaled(timeout)
        while pattern not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not in {self.output[-400:]!r}")
            self.output += self.frame(left)
        head, _, tail = self.output.partition(pattern)
        self.output = tail
        return head + pattern

    def until_closed(self, timeout: float = 10) -> ConnectionClosed:
        deadline = time.monotonic() + scaled(timeout)
        while True:
            try:
                self.output += self.frame(max(0.01, deadline - time.monotonic()))
            except ConnectionClosed as closed:
                return closed


def send(ws: ClientConnection, data: bytes) -> None:
    if ws.subprotocol == BASE64:
        ws.send(base64.b64encode(data).decode("ascii"))
    else:
        ws.send(data)


def run_command(ws: ClientConnection, command: str, timeout: float = 10) -> str:
    """Type `command`; return what it printed between two markers (echo-proof)."""
    reader = Reader(ws)
    send(ws, f"echo BEGIN-$((6*7)); {command}; echo END-$((6*7))\n".encode())
    reader.until(b"BEGIN-42", timeout)
    body = reader.until(b"END-42", timeout)
    return body[: -len(b"END-42")].decode(errors="replace").strip()
