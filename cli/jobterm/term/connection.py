"""The terminal WebSocket: handshake, frames, keepalive, and how a session ends.

GitLab never sends a Close frame: when the shell exits, the job ends or the session is
revoked, the TCP connection just drops. `recv()` turns that into `SessionEnded`; a link that
stops answering our pings becomes `ConnectionLostError`. Handshake answers become the
messages of the spec's table (302 → signed out, 403 → Origin, 404 → no terminal, 500 → busy).
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jobterm.core.frames import SUBPROTOCOLS, TerminalCodec
from jobterm.errors import (
    AuthError,
    BusyError,
    ConnectionLostError,
    ForbiddenError,
    JobtermError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    ServerError,
)

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger("jobterm.ws")


class _FrameSummary(logging.Filter):
    """websockets logs the first bytes of each frame at DEBUG: what the user types (a
    password at a no-echo prompt) and what the job shows. Keep the kind and size only."""

    def filter(self, record: logging.LogRecord) -> bool:
        from websockets.frames import Frame, Opcode

        args = record.args
        if isinstance(args, tuple) and args and isinstance(args[0], Frame):
            frame = args[0]
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                record.args = (f"{frame.opcode.name} [{len(frame.data)} bytes]",)
        return True


#: The logger websockets writes the handshake and frames to (see _FrameSummary).
wire_log = logging.getLogger("jobterm.ws.wire")
wire_log.addFilter(_FrameSummary())


def ping_setting(name: str, default: float) -> float:
    """A keepalive duration from the environment (tests shorten it); UsageError if invalid."""
    from jobterm.core.duration import seconds_from_env

    return seconds_from_env(os.environ, name, default)


#: Seconds between our pings, and how long a pong may take before the link counts as dead.
#: JOBTERM_PING_INTERVAL / JOBTERM_PING_TIMEOUT override them (read when a target is made).
PING_INTERVAL = 15.0
PING_TIMEOUT = 20.0


def _is_loopback(url: str) -> bool:
    """A proxy cannot reach this machine's loopback: REST skips proxies for it, and so must
    the WebSocket (websockets otherwise takes HTTPS_PROXY/ALL_PROXY from the environment)."""
    from urllib.parse import urlsplit

    from jobterm.core.hosts import Host

    return Host("http", urlsplit(url).hostname or "", None, "").is_loopback


@functools.cache
def _no_redirects() -> Any:
    """websockets' `connect`, answering a redirect with its status instead of following it:
    GitLab redirects the terminal's handshake only to its sign-in page (an expired session),
    which is no WebSocket, and the caller must see that as `HandshakeSignedOut`."""
    from websockets.asyncio.client import connect

    class NoRedirects(connect):
        def process_redirect(self, exc: Exception) -> Exception | str:
            return exc

    return NoRedirects


class HandshakeSignedOut(AuthError):
    """The handshake was sent to sign in (302/401): the session may be renewable."""


class HandshakeNotFound(NotFoundError):
    """The handshake answered 404, which GitLab gives for most reasons a terminal cannot
    open; the REST API can say which (`jobterm.jobs.terminal.diagnose`)."""


class SessionEnded(Exception):
    """The server dropped the connection (GitLab's way of ending a terminal session)."""


@dataclass
class TerminalTarget:
    """Everything needed to open one job's terminal."""

    ws_url: str
    cookie_header: str = field(repr=False)
    ssl_context: ssl.SSLContext | None = None
    host_label: str = ""  # for messages: "gitlab.example.com"
    job_id: int = 0
    subprotocols: tuple[str, ...] = SUBPROTOCOLS
    ping_interval: float | None = field(
        default_factory=lambda: ping_setting("JOBTERM_PING_INTERVAL", PING_INTERVAL)
    )
    ping_timeout: float | None = field(
        default_factory=lambda: ping_setting("JOBTERM_PING_TIMEOUT", PING_TIMEOUT)
    )


class TerminalConnection:
    """An open job terminal: send input bytes, receive output bytes."""

    def __init__(self, ws: ClientConnection, codec: TerminalCodec) -> None:
        self._ws = ws
        self.codec = codec

    @property
    def subprotocol(self) -> str | None:
        return self.codec.subprotocol

    @classmethod
    async def open(
        cls, target: TerminalTarget, *, open_timeout: float = 20.0
    ) -> TerminalConnection:
        from websockets.exceptions import InvalidHandshake
        from websockets.typing import Subprotocol

        log.debug("connecting to %s", target.ws_url)
        try:
            ws = await _no_redirects()(
                target.ws_url,
                subprotocols=[Subprotocol(p) for p in target.subprotocols],
                additional_headers={"Cookie": target.cookie_header},
                ssl=target.ssl_context if target.ws_url.startswith("wss:") else None,
                compression=None,  # Workhorse does not negotiate it; keep latency low
                open_timeout=open_timeout,
                close_timeout=2,  # GitLab echoes our Close at once; don't hang on a dead link
                ping_interval=target.ping_interval,
                ping_timeout=target.ping_timeout,
                max_size=2**22,
                max_queue=16,  # bounded: at most 16 frames wait for the local terminal
                user_agent_header="jobterm",
                logger=wire_log,
                proxy=None if _is_loopback(target.ws_url) else True,  # as REST does
            )
        except (InvalidHandshake, TimeoutError, OSError) as exc:
            raise _open_error(exc, target) from None
        try:
            codec = TerminalCodec(ws.subprotocol)
        except JobtermError:
            await ws.close()
            raise
        log.debug("terminal open, subprotocol %s", ws.subprotocol or "none (unwrapped)")
        return cls(ws, codec)

    async def __aenter__(self) -> TerminalConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, data: bytes) -> None:
        """Send input; waits while the network is slower than the input (backpressure)."""
        from websockets.exceptions import ConnectionClosed

        try:
            for frame in self.codec.encode_input(data):
                await self._ws.send(frame)
        except ConnectionClosed as exc:
            raise _ended(exc) from None

    async def recv(self) -> bytes:
        """The next output bytes; raises SessionEnded or ConnectionLostError at the end."""
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self._ws.recv()
        except ConnectionClosed as exc:
            raise _ended(exc) from None
        return self.codec.decode_output(message)

    async def close(self) -> None:
        """Close cleanly (the server then sends EOT to the shell). Never raises."""
        try:
            await self._ws.close()
        except Exception:
            log.debug("close failed", exc_info=True)


def _ended(exc: Exception) -> Exception:
    """Map websockets' closing exceptions: a keepalive timeout is a lost link."""
    rcvd = getattr(exc, "rcvd", None)
    sent = getattr(exc, "sent", None)
    reason = getattr(sent, "reason", "") or ""
    if sent is not None and sent.code == 1011 and "keepalive" in reason:
        return ConnectionLostError(
            "connection lost: GitLab stopped answering",
            "check your network; the job itself may still be running",
        )
    if sent is not None and sent.code in (1002, 1007, 1009):
        # We closed because the server broke the protocol (1009: a frame over max_size);
        # that is not GitLab's ordinary end of a session.
        what = "a frame larger than 4 MiB" if sent.code == 1009 else f"a bad frame ({reason})"
        return ProtocolError(
            f"the server sent {what} on the terminal connection",
            "try again; if it persists, report it to the GitLab administrators",
        )
    log.debug("connection closed: rcvd=%s sent=%s", rcvd, sent)
    return SessionEnded()


def handshake_error(status: int, target: TerminalTarget) -> JobtermError:
    """The spec's handshake table, as errors with their own exit codes."""
    host = target.host_label
    job = f"job {target.job_id}" if target.job_id else "the job"
    if status in (301, 302, 303, 401):
        return HandshakeSignedOut(
            f"{host} did not accept the session (signed out or expired)",
            f"run `jobterm login {host}`",
        )
    if status == 403:
        return ForbiddenError(
            f"{host} refused the terminal connection (403, Origin check)",
            "a proxy may be rewriting the Origin or Host header",
        )
    if status == 404:
        return HandshakeNotFound(
            f"{host} has no terminal for {job}",
            "it must be running, started by you, on a runner with [session_server]",
        )
    if status == 500:
        return BusyError(
            f"{host} could not open the terminal of {job}",
            "another terminal may be attached (close it), or the runner is unreachable",
        )
    return ServerError(f"{host} answered the terminal handshake with HTTP {status}")


def _open_error(exc: Exception, target: TerminalTarget) -> JobtermError:
    """The error to show when opening the terminal's WebSocket failed with `exc`."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    if isinstance(exc, InvalidStatus):
        return handshake_error(exc.response.status_code, target)
    if isinstance(exc, InvalidHandshake):
        return ProtocolError(
            f"the terminal handshake with {target.host_label} failed: {exc}",
            "check that the host is a GitLab instance; run with --debug to see the exchange",
        )
    from jobterm.gitlab.failures import transport_error

    host, timed_out = target.host_label, isinstance(exc, TimeoutError)
    failed = transport_error(exc, host, "opening the terminal", timed_out=timed_out)
    return failed or NetworkError(
        f"cannot connect to {host}: {getattr(exc, 'strerror', None) or exc}",
        "check the host name and your network",
    )
