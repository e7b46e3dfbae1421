"""One terminal connection of the sandbox: a WebSocket wired to a shell in a PTY.

Theory of operation. After the handshake (workhorse.py) `TerminalSession.serve` runs three
tasks over one upgraded connection and one `PtyShell`:

* output: shell -> WebSocket, one frame per read (binary, or base64 text). `send_*` waits
  when the socket's buffer is full, so the shell's output waits in the PTY: bounded memory,
  nothing dropped.
* input: WebSocket -> shell. Binary and text frames are both data (as Workhorse treats
  them); with base64 they are decoded, and invalid base64 ends the session. Each frame is
  cut to its first 32 KiB (decoded), as observed through Workhorse.
* pings: an empty Ping every `ping_interval` seconds; pongs are not enforced; and every
  `reauthorize_interval` seconds the authorization is checked again (Workhorse does that).

The first of these to end decides how the connection ends: the shell's output ended (the
shell exited) or anything the server decides (`drop()`: job ended, signed out, invalid
input) -> the transport is aborted, no Close frame; the client sent Close -> aiohttp echoes
Close 1000, then EOT (0x04) goes to the shell, which has `eot_grace` seconds to exit.

Faults change that behaviour on purpose; see `TerminalFaults`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from jobterm.aio import within
from jobterm.sandbox.pty import PtyShell
from jobterm.sandbox.state import Job, Settings

log = logging.getLogger("jobterm.sandbox.terminal")

BINARY = "terminal.gitlab.com"
BASE64 = "base64.terminal.gitlab.com"
SUBPROTOCOLS = (BINARY, BASE64)  # Workhorse's order of preference
MAX_INPUT_FRAME = 32 * 1024  # larger input frames lose their tail (observed)
MAX_MESSAGE = 4 * 1024 * 1024  # a longer message drops the connection (bounded memory)
EOT = b"\x04"
EOT_GRACE = 0.5  # seconds the shell has to exit after EOT before it is killed
SILENT_POLL = 0.2
FLUSH_GRACE = 2.0  # seconds a dropped connection has to take the output already sent


def choose_subprotocol(offered: Iterable[str]) -> str | None:
    """The first of the server's subprotocols the client offered (gorilla's rule), or None."""
    names = {p.strip() for header in offered for p in header.split(",")}
    return next((p for p in SUBPROTOCOLS if p in names), None)


@dataclass
class TerminalFaults:
    """Deliberate misbehaviour of the terminal, for testing clients.

    silent: answer nothing once connected (no output, no pings, input ignored, the
        connection left open until the client goes away or the job ends).
    text_on_binary: send output as text frames on `terminal.gitlab.com`.
    oversized_frame: > 0: first send one frame of this many bytes of output ("x"s).
    subprotocol: answer the handshake with this subprotocol name, whatever was offered
        ("": name none, as a server that negotiates no subprotocol).
    drop_after_bytes: abort the connection after sending this many bytes of output.
    drop_after_input_bytes: abort the connection once this many bytes of input arrived
        (what came before reaches the shell; the frame that crosses the limit does not).
    runner_unreachable: the handshake answers 500 (Workhorse cannot dial the runner).
    """

    silent: bool = False
    text_on_binary: bool = False
    oversized_frame: int = 0
    subprotocol: str | None = None
    drop_after_bytes: int | None = None
    drop_after_input_bytes: int | None = None
    runner_unreachable: bool = False

    @classmethod
    def from_dict(cls, values: Any) -> TerminalFaults:
        if not isinstance(values, dict):
            raise TypeError("faults must be a JSON object")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        faults = cls()
        for key, value in values.items():
            default = getattr(faults, key)
            if value is not None and default is not None and type(value) is not type(default):
                raise TypeError(f"{key} has the wrong type")
            setattr(faults, key, value)
        return faults

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# gorilla (Workhorse) does not check text frames for UTF-8: take them as raw bytes too where
# this aiohttp can (decode_text), else a bad one ends the session like any protocol error.
_RAW_TEXT: dict[str, Any] = (
    {"decode_text": False}
    if "decode_text" in inspect.signature(web.WebSocketResponse).parameters
    else {}
)


class _Response(web.WebSocketResponse):
    """aiohttp's WebSocketResponse, able to answer an unexpected subprotocol (a fault), and
    dropping the connection on a client's protocol error instead of sending a Close frame."""

    forced_protocol: str | None = None

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        limits = (WSCloseCode.MESSAGE_TOO_BIG, WSCloseCode.INVALID_TEXT)
        if code in limits and self._req is not None and self._req.transport is not None:
            # aiohttp answers a message over max_msg_size (1009) or bad UTF-8 (1007) with a
            # Close frame; Workhorse has neither limit and never sends one (spec 6). A
            # closing transport takes no more frames, so the Close below is not sent.
            # (Protocol errors keep their Close 1002: gorilla sends one too.)
            self._req.transport.close()
        return await super().close(code=code, message=message, drain=drain)

    def _pre_start(self, request: web.BaseRequest) -> Any:
        result = super()._pre_start(request)
        if self.forced_protocol == "":  # name none: the client must talk unwrapped
            self.headers.popall("Sec-WebSocket-Protocol", None)
        elif self.forced_protocol is not None:
            self.headers["Sec-WebSocket-Protocol"] = self.forced_protocol
        return result


Reauthorize = Callable[[Job, str], bool]


@dataclass(eq=False, kw_only=True)
class TerminalSession:
    """One connection to one job's terminal. `job.terminal` points here while it lasts."""

    job: Job
    session_id: str
    protocol: str | None
    faults: TerminalFaults
    settings: Settings
    on_detach: Callable[[Job], None] | None = None
    shell: PtyShell | None = field(default=None, init=False)
    end_reason: str | None = field(default=None, init=False)
    _transport: asyncio.Transport | None = field(default=None, init=False, repr=False)
    _dropped: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    # -- ending from outside -----------------------------------------------------------------

    def drop(self, reason: str) -> None:
        """End the connection now: the TCP connection drops with no Close frame (spec 6)."""
        if self.end_reason is None:
            self.end_reason = reason
        log.info("terminal of job %s dropped: %s", self.job.id, reason)
        self.detach()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            # close() sends what is already buffered, then FIN: no output is lost and no
            # Close frame is sent. A peer that reads nothing more is cut off after a grace.
            transport.close()
            asyncio.get_running_loop().call_later(FLUSH_GRACE, transport.abort)
        self._dropped.set()

    def detach(self) -> None:
        """The job no longer has this terminal (a held job finishes). Done before the client
        can notice the end, so a client that then asks the REST API sees the outcome."""
        if self.job.terminal is self:
            self.job.terminal = None
            if self.on_detach is not None:
                self.on_detach(self.job)

    # -- serving -----------------------------------------------------------------------------

    async def serve(
        self, request: web.Request, shell: PtyShell, reauthorize: Reauthorize
    ) -> web.StreamResponse:
        self.shell = shell
        ws = _Response(
            protocols=[self.protocol] if self.protocol else [],
            autoping=True,
            autoclose=False,  # the job learns of the detach before the Close is echoed
            compress=False,  # gorilla/Workhorse do not negotiate permessage-deflate
            max_msg_size=MAX_MESSAGE,
            **_RAW_TEXT,
        )
        ws.forced_protocol = self.faults.subprotocol
        await ws.prepare(request)
        self._transport = request.transport
        if self._dropped.is_set():  # dropped during the handshake
            self.drop(self.end_reason or "dropped")
            return ws
        tasks = [
            asyncio.ensure_future(self._output(ws, shell)),
            asyncio.ensure_future(self._input(ws, shell, request)),
            asyncio.ensure_future(self._keepalive(ws, reauthorize)),
            asyncio.ensure_future(self._dropped.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            await self._finish(next(iter(done)), tasks, shell)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return ws

    async def _finish(self, first: asyncio.Future[Any], tasks: list[Any], shell: PtyShell) -> None:
        result = first.result() if not first.cancelled() and first.exception() is None else None
        if first is tasks[1] and result == "client closed":
            # Close 1000 was echoed; the shell gets EOT as through Workhorse.
            self.end_reason = self.end_reason or "client closed"
            with contextlib.suppress(ConnectionResetError):
                await shell.write(EOT)
            with contextlib.suppress(asyncio.TimeoutError):
                await within(shell.wait(), EOT_GRACE)
            return
        if not first.cancelled() and first.exception() is not None:
            log.warning("terminal of job %s failed: %r", self.job.id, first.exception())
        self.drop(result if isinstance(result, str) else self.end_reason or "ended")

    async def _output(self, ws: web.WebSocketResponse, shell: PtyShell) -> str:
        faults = self.faults
        if faults.silent:
            await asyncio.Event().wait()  # never: the server went quiet
        try:
            if faults.oversized_frame > 0:
                await self._send(ws, b"x" * faults.oversized_frame)
            return await self._pump_output(ws, shell)
        except ConnectionError:
            return "connection lost"

    async def _pump_output(self, ws: web.WebSocketResponse, shell: PtyShell) -> str:
        sent = 0
        limit = self.faults.drop_after_bytes
        while True:
            data = await shell.read()
            if not data:
                return "shell exited"
            if limit is not None and sent + len(data) >= limit:
                await self._send(ws, data[: limit - sent])
                return f"dropped after {limit} bytes (fault)"
            sent += len(data)
            await self._send(ws, data)

    async def _send(self, ws: web.WebSocketResponse, data: bytes) -> None:
        if self.protocol == BASE64:
            await ws.send_str(base64.b64encode(data).decode("ascii"))
        elif self.faults.text_on_binary:
            send_frame = getattr(ws, "send_frame", None)  # aiohttp >= 3.11
            if send_frame is not None:
                await send_frame(data, WSMsgType.TEXT)  # the very bytes, in a text frame
            else:
                await ws.send_str(data.decode("utf-8", "replace"))
        else:
            await ws.send_bytes(data)

    async def _input(self, ws: web.WebSocketResponse, shell: PtyShell, request: Any) -> str:
        if self.faults.silent:
            # Read nothing, answer nothing; notice only the client going away.
            while request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(SILENT_POLL)
            return "connection lost"
        received = 0
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING):
                self.detach()
                # gorilla echoes the client's code; for none (aiohttp says 0) we can only
                # send 1000, where gorilla sends an empty Close.
                code = msg.data if isinstance(msg.data, int) and msg.data >= 1000 else 1000
                await ws.close(code=code)  # then closes the connection
                return "client closed"
            if msg.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                return "connection lost"
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            data = msg.data.encode("utf-8") if isinstance(msg.data, str) else bytes(msg.data)
            if self.protocol == BASE64:
                try:  # Go's decoder skips CR and LF, and nothing else
                    data = base64.b64decode(data.translate(None, b"\r\n"), validate=True)
                except (binascii.Error, ValueError):
                    return "invalid base64 from the client"
            received += len(data)
            limit = self.faults.drop_after_input_bytes
            if limit is not None and received >= limit:
                return f"dropped after {limit} input bytes (fault)"
            try:
                await shell.write(data[:MAX_INPUT_FRAME])
            except ConnectionResetError:
                return "shell input closed"

    async def _keepalive(self, ws: web.WebSocketResponse, reauthorize: Reauthorize) -> str:
        """Pings every ping_interval and re-authorization every reauthorize_interval."""
        loop = asyncio.get_running_loop()
        ping_every = _period(self.settings.ping_interval)
        auth_every = _period(self.settings.reauthorize_interval)
        next_ping = loop.time() + ping_every
        next_auth = loop.time() + auth_every
        while True:
            delay = min(next_ping, next_auth) - loop.time()
            if delay == float("inf"):
                await asyncio.Event().wait()  # neither pings nor re-authorization
            await asyncio.sleep(max(0.0, delay))
            now = loop.time()
            if now >= next_auth:
                next_auth = now + auth_every
                if not reauthorize(self.job, self.session_id):
                    return "authorization revoked"
            if now >= next_ping:
                next_ping = now + ping_every
                if not self.faults.silent:
                    with contextlib.suppress(ConnectionError):
                        await ws.ping()


def _period(seconds: float) -> float:
    """A period in seconds; 0 or less means never."""
    return seconds if seconds > 0 else float("inf")
