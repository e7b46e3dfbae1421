"""Plain-client helpers for the sandbox terminal tests: websockets' sync client and httpx,
never jobterm's own client code. The sandbox itself is the real `jobterm sandbox` process
started by fixtures_sandbox."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fixtures_sandbox import SandboxInfo, launch_sandbox
from util import scaled

SESSION_COOKIE = "_gitlab_session"

BINARY = "terminal.gitlab.com"
BASE64 = "base64.terminal.gitlab.com"


class TerminalSandbox:
    """A running `jobterm sandbox` (fixtures_sandbox.SandboxInfo) seen from the terminal tests:
    web sessions through the real sign-in form, everything else through the control API."""

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self.url = info.url
        self.ws_url = info.ws_url
        self.admin_token = info.admin_token

    def token(self, username: str) -> str:
        token: str = self.info.user(username)["token"]
        return token

    def cookie_for(self, username: str) -> str:
        """A fresh signed-in `_gitlab_session` cookie of `username` ("name=value")."""
        with httpx.Client(base_url=self.url, timeout=scaled(10)) as client:
            page = client.get("/users/sign_in")
            response = client.post(
                "/users/sign_in",
                data={
                    "authenticity_token": _hidden_token(page.text),
                    "user[login]": username,
                    "user[password]": self.info.user(username)["password"],
                },
            )
            assert response.status_code == 302, response.text
            return f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"

    def sign_out(self, cookie: str) -> None:
        """Sign out as a browser does: the CSRF token of a page, then POST /users/sign_out."""
        with httpx.Client(base_url=self.url, timeout=scaled(10)) as client:
            page = client.get("/", headers={"Cookie": cookie})
            csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
            assert csrf, page.text
            response = client.post(
                "/users/sign_out",
                data={"authenticity_token": csrf.group(1)},
                headers={"Cookie": cookie},
            )
            assert response.status_code == 302, response.text

    def terminal_url(self, job_id: int) -> str:
        return self.info.terminal_url(job_id)

    def job(self, job_id: int) -> dict[str, Any]:
        return self.control("GET", f"/jobs/{job_id}")  # type: ignore[no-any-return]

    def attached(self, job_id: int) -> bool:
        return bool(self.job(job_id)["terminal_attached"])

    def wait_detached(self, job_id: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while self.attached(job_id):
            assert time.monotonic() < deadline, f"job {job_id} still has a terminal"
            time.sleep(0.02)

    def wait_status(self, job_id: int, status: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + scaled(timeout)
        while True:
            job = self.job(job_id)
            if job["status"] == status:
                return job
            assert time.monotonic() < deadline, f"job {job_id} is {job['status']}, not {status}"
            time.sleep(0.02)

    def control(self, method: str, path: str, json: Any = None) -> Any:
        """The control API (/-/sandbox/...) with the admin token; the JSON answer."""
        response = httpx.request(
            method,
            f"{self.url}/-/sandbox{path}",
            json=json,
            headers={"X-Sandbox-Token": self.admin_token},
            timeout=scaled(10),
        )
        assert response.status_code < 300, response.text
        return response.json()


def _hidden_token(page: str) -> str:
    found = re.search(r'name="authenticity_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


@contextmanager
def serving(config: dict[str, Any] | None, *args: str, workdir: Path) -> Iterator[TerminalSandbox]:
    """A `jobterm sandbox` process for a whole module; it must exit 0 on SIGTERM."""
    info = launch_sandbox(config, args, workdir)
    try:
        yield TerminalSandbox(info)
    finally:
        code = info.stop()
        assert code == 0, f"the sandbox exited with {code}; stderr:\n{info.stderr()}"


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
