"""The attach session loop: local terminal ↔ escape parser ↔ job terminal WebSocket.

Two pumps run until one of them ends the session:
* input: stdin (raw mode) → EscapeParser → frames to the job; `~` commands handled here.
  The next chunk is read only after the previous one was sent, so a fast paste waits for the
  network instead of filling memory.
* output: WebSocket → SetupFilter (hides the in-band size set-up) → the local terminal, with
  a blocking write: a slow terminal stops us reading, and the WebSocket's bounded queue then
  stops the server (backpressure end to end, no byte dropped).
Signals arrive as loop callbacks: SIGINT is sent to the job as 0x03 (Ctrl-C never kills
jobterm), SIGWINCH offers `~r`, SIGTERM/SIGHUP end the session; the caller restores the
terminal in every case.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from jobterm.core.escape import HELP_TEXT, Action, Command, Data, EscapeParser, shown
from jobterm.core.setup import SetupFilter, stty_command
from jobterm.errors import ConnectionLostError, JobtermError
from jobterm.term.connection import SessionEnded, TerminalConnection
from jobterm.term.record import Recorder
from jobterm.term.tty import terminal_size, write_all

READ_SIZE = 64 * 1024


class Outcome(Enum):
    DETACHED = "detached"  # the user typed ~. (or stdin closed)
    ENDED = "ended"  # the server dropped the connection
    LOST = "lost"  # the link went silent, or the server broke the protocol
    SIGNALLED = "signalled"  # SIGTERM / SIGHUP


@dataclass
class AttachOptions:
    escape_char: bytes | None = b"~"
    resize: bool = True
    term: str | None = None
    record: Path | None = None
    record_input: bool = False
    setup_timeout: float = 5.0
    watch_interval: float = 5.0


@dataclass
class Result:
    outcome: Outcome
    signal: int | None = None
    error: JobtermError | None = None


class SessionInfo(Protocol):
    """What the loop asks the outside world (the REST API) while attached."""

    def status_lines(self, attached_seconds: float) -> list[str]: ...

    def held_notice(self) -> str | None:
        """A one-time notice when the job's script has ended and the job waits for us."""


@dataclass
class _State:
    result: Result | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    pending_resize: tuple[int, int] | None = None

    def finish(self, result: Result) -> None:
        if self.result is None:
            self.result = result
        self.done.set()


class AttachSession:
    def __init__(
        self,
        conn: TerminalConnection,
        options: AttachOptions,
        info: SessionInfo,
        in_fd: int,
        out_fd: int,
    ) -> None:
        self.conn = conn
        self.options = options
        self.info = info
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.parser = EscapeParser(options.escape_char)
        self.state = _State()
        self.started = time.monotonic()
        self.at_line_start = True  # False when the job's output stopped mid-line
        rows, cols = terminal_size(out_fd)
        self.size = (rows, cols)
        self.setup = SetupFilter(rows, cols, options.term) if options.resize and rows else None
        self.recorder: Recorder | None = None
        if options.record is not None:
            self.recorder = Recorder(
                options.record,
                rows or 24,
                cols or 80,
                record_input=options.record_input,
                env={"TERM": options.term or ""},
            )

    async def run(self) -> Result:
        loop = asyncio.get_running_loop()
        handlers = self._install_signals(loop)
        tasks = [
            asyncio.create_task(self._pump_output()),
            asyncio.create_task(self._pump_input()),
            asyncio.create_task(self._watch()),
        ]
        try:
            await self.state.done.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for signum in handlers:
                loop.remove_signal_handler(signum)
            with contextlib.suppress(OSError):  # a session that ends mid set-up: show it all
                self._setup_timeout()
            if self.recorder is not None:
                self.recorder.close()
        assert self.state.result is not None
        return self.state.result

    # -- output -------------------------------------------------------------------------
    async def _pump_output(self) -> None:
        try:
            while True:
                data = await self.conn.recv()
                if self.setup is not None:
                    data = self.setup.feed(data)
                if data:
                    self._show(data)
        except SessionEnded:
            self.state.finish(Result(Outcome.ENDED))
        except (ConnectionLostError, JobtermError) as exc:
            self.state.finish(Result(Outcome.LOST, error=exc))

    def _show(self, data: bytes) -> None:
        write_all(self.out_fd, data)
        self.at_line_start = data.endswith(b"\n")
        if self.recorder is not None:
            self.recorder.output(data)

    def _setup_timeout(self) -> None:
        if self.setup is not None and not self.setup.done:
            held = self.setup.timeout()
            if held:
                self._show(held)

    def notice(self, text: str) -> None:
        """A message from jobterm itself, on a line of its own, in raw mode."""
        lines = text.rstrip("\n").split("\n")
        body = "\r\n".join(f"[jobterm] {line}" for line in lines)
        write_all(self.out_fd, f"\r\n{body}\r\n".encode())
        self.at_line_start = True

    # -- input --------------------------------------------------------------------------
    async def _read_stdin(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(self.in_fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(self.in_fd)
        try:
            return os.read(self.in_fd, READ_SIZE)
        except OSError:
            return b""  # the terminal hung up

    async def _pump_input(self) -> None:
        try:
            if self.setup is not None:  # typed first; a session that ends at once ends here
                await self.conn.send(self.setup.command())
                asyncio.get_running_loop().call_later(
                    self.options.setup_timeout, self._setup_timeout
                )
            while True:
                data = await self._read_stdin()
                if not data:
                    self.state.finish(Result(Outcome.DETACHED))
                    return
                if self.recorder is not None:
                    self.recorder.input(data)
                for event in self.parser.feed(data):
                    if isinstance(event, Data):
                        await self.conn.send(event.data)
                    elif isinstance(event, Command) and await self._command(event.action):
                        return
        except SessionEnded:
            self.state.finish(Result(Outcome.ENDED))
        except JobtermError as exc:
            self.state.finish(Result(Outcome.LOST, error=exc))

    async def _command(self, action: Action) -> bool:
        """Run an escape command; True when the session should end."""
        char = shown(self.options.escape_char or b"~")
        if action is Action.DISCONNECT:
            self.notice("disconnecting")
            self.state.finish(Result(Outcome.DETACHED))
            return True
        if action is Action.HELP:
            self.notice(HELP_TEXT.format(c=char))
        elif action is Action.STATUS:
            elapsed = time.monotonic() - self.started
            lines = await asyncio.to_thread(self.info.status_lines, elapsed)
            self.notice("\n".join(lines))
        elif action is Action.RESIZE:
            await self._apply_size()
        return False

    async def _apply_size(self) -> None:
        rows, cols = terminal_size(self.out_fd)
        self.size = (rows, cols)
        self.state.pending_resize = None
        if not rows:
            self.notice("this terminal reports no size; nothing to apply")
            return
        await self.conn.send(f" {stty_command(rows, cols)}\r".encode())

    # -- signals and the job watcher -----------------------------------------------------
    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        handlers: dict[int, Callable[[], None]] = {
            signal.SIGINT: self._on_sigint,
            signal.SIGWINCH: self._on_winch,
            signal.SIGTERM: lambda: self._on_fatal(signal.SIGTERM),
            signal.SIGHUP: lambda: self._on_fatal(signal.SIGHUP),
        }
        for signum, handler in handlers.items():
            loop.add_signal_handler(signum, handler)
        return list(handlers)

    def _on_sigint(self) -> None:
        task = asyncio.ensure_future(self.conn.send(b"\x03"))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _on_fatal(self, signum: int) -> None:
        self.state.finish(Result(Outcome.SIGNALLED, signal=signum))

    def _on_winch(self) -> None:
        if not self.options.resize:
            return
        size = terminal_size(self.out_fd)
        if size == self.size or size == self.state.pending_resize:
            return
        first = self.state.pending_resize is None
        self.state.pending_resize = size
        if first:
            asyncio.get_running_loop().call_later(0.3, self._offer_resize)

    def _offer_resize(self) -> None:
        size = self.state.pending_resize
        if size is None or size == self.size:
            return
        char = shown(self.options.escape_char or b"~")
        how = (
            f"type {char}r at a shell prompt to apply it"
            if self.options.escape_char
            else (f"run `{stty_command(*size)}` in the job to apply it")
        )
        self.notice(f"this terminal is now {size[1]}x{size[0]}; {how}")

    async def _watch(self) -> None:
        """Tell the user once when the job's script has ended and the job waits for them."""
        while True:
            await asyncio.sleep(self.options.watch_interval)
            with contextlib.suppress(JobtermError):
                text = await asyncio.to_thread(self.info.held_notice)
                if text:
                    self.notice(text)
