"""The interactive session loop: local terminal ↔ escape parser ↔ job terminal WebSocket.

`run_interactive(conn, options, info, in_fd, out_fd)` takes an open connection, puts the
terminal in raw mode, runs the session and restores the terminal; `attach` and any other
command that wants the job's shell interactively call it.

Two pumps run until one of them ends the session:
* input: stdin (raw mode) → EscapeParser → PromptTracker → frames to the job; `~` commands
  handled here. The next chunk is read only after the previous one was sent (or, during a
  hidden resize, released), so a fast paste waits for the network instead of filling memory.
* output: WebSocket → SetupFilter (hides the in-band set-up) → PromptTracker (strips prompt
  markers, holds back a hidden resize) → the local terminal, with a blocking write: a slow
  terminal stops us reading, and the WebSocket's bounded queue then stops the server.
Bytes for the job from both pumps go through one FIFO drained under one lock, so keys queued
during a hidden resize can never overtake the resize line or be overtaken by later keys.
Signals arrive as loop callbacks (term/attach_signals.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from jobterm.aio import wait_set
from jobterm.core.escape import HELP_TEXT, Action, Command, Data, EscapeParser, shown
from jobterm.core.frames import Send
from jobterm.core.prepare import Prepare, ReportScanner
from jobterm.core.prompt import Event, PromptTracker, Show, visible_resize_line
from jobterm.core.setup import SetupFilter
from jobterm.errors import ConnectionLostError, JobtermError
from jobterm.term.connection import SessionEnded, TerminalConnection
from jobterm.term.tty import RawTerminal, terminal_size, write_all

if TYPE_CHECKING:
    from jobterm.term.record import Recorder

READ_SIZE = 64 * 1024
#: Seconds of quiet after a window change before the size goes to an idle prompt.
RESIZE_SETTLE = 0.25
#: Seconds a hidden resize may take before its line is shown and resizing stops.
INJECT_TIMEOUT = 5.0
#: Seconds a possible start of a prompt marker is held at the end of a chunk.
PARTIAL_HOLD = 0.05
#: Seconds a fresh terminal's set-up waits for the shell's first prompt before it is typed
#: anyway (a job whose shell prints nothing until it is spoken to).
FIRST_PROMPT_WAIT = 0.5


class Outcome(Enum):
    DETACHED = "detached"  # the user typed ~. (or stdin closed)
    ENDED = "ended"  # the server dropped the connection
    LOST = "lost"  # the link went silent, or the server broke the protocol
    SIGNALLED = "signalled"  # SIGTERM / SIGHUP


# NamedTuples: every start creates these classes (see ARCHITECTURE.md, "Start-up").
class AttachOptions(NamedTuple):
    escape_char: bytes | None = b"~"
    resize: bool = True
    #: $TERM of the local terminal, for the job's shell (None: leave the job's own)
    term: str | None = None
    record: Path | None = None
    record_input: bool = False
    setup_timeout: float = 5.0
    watch_interval: float = 5.0
    #: The terminal was just opened, its shell has printed nothing yet: its first prompt is
    #: shown as it comes and the set-up typed after it (core/setup.py). False where the
    #: session takes over a terminal that has been open a while (debug's hand-over).
    fresh: bool = True
    #: Lines typed after the set-up to learn, or change, where the shell is and what it has
    #: (core/prepare.py); None: nothing beyond the set-up.
    prepare: Prepare | None = None


class Result(NamedTuple):
    outcome: Outcome
    signal: int | None = None
    error: JobtermError | None = None


class SessionInfo(Protocol):
    """What the loop asks the outside world (the REST API) while attached."""

    def status_lines(self, attached_seconds: float) -> list[str]: ...

    def held_notice(self) -> str | None:
        """A one-time notice when the job's script has ended and the job waits for us."""

    def shown(self) -> None:
        """The job's first output is on the screen: work that can wait may start now (before,
        it would compete with connecting and the set-up for the interpreter's one lock)."""


@dataclass
class _State:
    result: Result | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)  # no keys held back
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def finish(self, result: Result) -> None:
        if self.result is None:
            self.result = result
        self.done.set()

    def later(self, name: str, delay: float, callback: Callable[[], object]) -> None:
        """Run `callback` after `delay`, replacing any timer of the same name."""
        self.cancel(name)
        self.timers[name] = asyncio.get_running_loop().call_later(delay, callback)

    def cancel(self, name: str | None = None) -> None:
        """Cancel the timer `name`, or every timer."""
        for key in [name] if name else list(self.timers):
            timer = self.timers.pop(key, None)
            if timer is not None:
                timer.cancel()


async def run_interactive(
    conn: TerminalConnection, options: AttachOptions, info: SessionInfo, in_fd: int, out_fd: int
) -> Result:
    """Run the interactive session on an open connection, the terminal raw meanwhile."""
    raw = RawTerminal(in_fd)
    raw.enter()
    try:
        session = AttachSession(conn, options, info, in_fd, out_fd, raw)
        result = await session.run()
        if not session.at_line_start:
            with contextlib.suppress(OSError):  # the closing line starts a line of its own
                write_all(out_fd, b"\r\n")
        return result
    finally:
        raw.leave()


class AttachSession:
    def __init__(
        self,
        conn: TerminalConnection,
        options: AttachOptions,
        info: SessionInfo,
        in_fd: int,
        out_fd: int,
        raw: RawTerminal | None = None,
    ) -> None:
        self.conn = conn
        self.options = options
        self.info = info
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.raw = raw
        self.parser = EscapeParser(options.escape_char)
        self.state = _State()
        self.state.released.set()
        self.started = time.monotonic()
        self.at_line_start = True  # False when the job's output stopped mid-line
        self.shown = False  # whether any of the job's output has been shown yet
        self.closing = False  # the session has ended; what is shown now is its last words
        rows, cols = terminal_size(out_fd)
        self.size = (rows, cols)
        self.setup = (
            SetupFilter(rows, cols, options.term, early=options.fresh, prepare=options.prepare)
            if options.resize and rows
            else None
        )
        self.prompt_came = asyncio.Event()  # the set-up waits for it (core/setup.py)
        self.prompt = PromptTracker(self.setup.nonce, rows, cols) if self.setup else None
        self.told_resize = False  # the fallback `~r` notice is given once
        # Without the hidden set-up (--no-resize, no size) the preparation is typed on its
        # own, seen, and its report read from the output as it passes.
        self.prep_scan: ReportScanner | None = None
        self._outbox: deque[bytes] = deque()
        self._send_lock = asyncio.Lock()
        self.recorder: Recorder | None = None
        if options.record is not None:
            from jobterm.term.record import Recorder

            self.recorder = Recorder(
                options.record,
                rows or 24,
                cols or 80,
                record_input=options.record_input,
                env={"TERM": options.term or ""},
            )

    async def run(self) -> Result:
        from jobterm.term.attach_signals import install_signals

        loop = asyncio.get_running_loop()
        handlers = install_signals(self, loop)
        tasks = [
            asyncio.create_task(self._pump_output()),
            asyncio.create_task(self._pump_input()),
            asyncio.create_task(self._watch()),
        ]
        try:
            await self.state.done.wait()
        finally:
            self.closing = True
            try:
                await self._wind_down(tasks, handlers)
            finally:  # whatever happened: the recording is complete on disk
                if self.recorder is not None:
                    self.recorder.close()
        assert self.state.result is not None
        return self.state.result

    async def _wind_down(self, tasks: list[asyncio.Task[None]], handlers: list[int]) -> None:
        loop = asyncio.get_running_loop()
        self.state.cancel()  # no notice or resize from this session outlives it
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for signum in handlers:
            loop.remove_signal_handler(signum)
        with contextlib.suppress(OSError):  # a session that ends mid set-up: show it all
            self._setup_timeout()
            if self.prompt is not None:
                self._apply(self.prompt.timeout() + self.prompt.flush())

    # -- output -------------------------------------------------------------------------
    async def _pump_output(self) -> None:
        try:
            while True:
                data = await self.conn.recv()
                if self.setup is not None:
                    data = self.setup.feed(data)
                    if not self.setup.awaits_prompt:
                        self.prompt_came.set()
                if self.prompt is None:
                    if data:
                        self._show(data + self._prepared(data))
                    continue
                self._apply(self.prompt.feed(data))
                if self._outbox:
                    await self._drain()
        except SessionEnded:
            self.state.finish(Result(Outcome.ENDED))
        except (ConnectionLostError, JobtermError) as exc:
            self.state.finish(Result(Outcome.LOST, error=exc))

    def _prepared(self, data: bytes) -> bytes:
        """The line about the shell, once its report passed (only without the set-up)."""
        scan, prepare = self.prep_scan, self.options.prepare
        if scan is None or scan.done or prepare is None:
            return b""
        report = scan.feed(data)
        return b"" if report is None else b"\r\n" + prepare.announce(report)

    def _apply(self, events: list[Event]) -> None:
        """Carry out the prompt tracker's events: show now, queue sends in order."""
        for event in events:
            if isinstance(event, Show):
                self._show(event.data)
            elif isinstance(event, Send):
                self._outbox.append(event.data)
        self._after_prompt_events()

    def _after_prompt_events(self) -> None:
        prompt = self.prompt
        if prompt is None:
            return
        if prompt.injecting:
            self.state.released.clear()
            if "inject" not in self.state.timers:
                self.state.later("inject", INJECT_TIMEOUT, self._inject_timeout)
        else:
            self.state.cancel("inject")
            self.state.released.set()
        if prompt.holding:
            self.state.later("partial", PARTIAL_HOLD, lambda: self.run_step(prompt.flush))

    def run_step(self, step: Callable[[], list[Event]]) -> None:
        """Run a tracker step from a timer; any bytes it sends go out from a task."""
        with contextlib.suppress(OSError):
            self._apply(step())
        if self._outbox:
            task = asyncio.ensure_future(self._drain())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _inject_timeout(self) -> None:
        self.state.timers.pop("inject", None)
        assert self.prompt is not None
        self.run_step(self.prompt.timeout)

    async def _drain(self) -> None:
        async with self._send_lock:
            while self._outbox:
                await self.conn.send(self._outbox.popleft())

    def _show(self, data: bytes) -> None:
        write_all(self.out_fd, data)
        self.at_line_start = data.endswith(b"\n")
        if not self.shown and not self.closing:  # not what a session's end releases
            self.shown = True
            self.info.shown()
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
                if self.setup.awaits_prompt:  # after the first prompt, which is shown at once
                    await wait_set(self.prompt_came, FIRST_PROMPT_WAIT)
                self.setup.typed()
                await self.conn.send(self.setup.command())
                self.state.later("setup", self.options.setup_timeout, self._setup_timeout)
            elif self.options.prepare is not None:
                nonce = secrets.token_hex(8)
                self.prep_scan = ReportScanner(nonce)
                lines = self.options.prepare.lines(nonce)
                await self.conn.send("".join(line + "\r" for line in lines).encode())
            while True:
                data = await self._read_stdin()
                if not data:
                    self.state.finish(Result(Outcome.DETACHED))
                    return
                if self.recorder is not None:
                    self.recorder.input(data)
                for event in self.parser.feed(data):
                    if isinstance(event, Data):
                        await self.type_keys(event.data)
                    elif isinstance(event, Command) and await self._command(event.action):
                        return
        except SessionEnded:
            self.state.finish(Result(Outcome.ENDED))
        except JobtermError as exc:
            self.state.finish(Result(Outcome.LOST, error=exc))

    async def type_keys(self, keys: bytes) -> None:
        """Send keys to the job, after anything queued before them; wait while a hidden
        resize holds keys back, so that at most one chunk waits in memory."""
        if self.prompt is None:
            async with self._send_lock:
                await self.conn.send(keys)
            return
        self._apply(self.prompt.typed(keys))
        await self._drain()
        await self.state.released.wait()

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
            await self._force_size()
        elif action is Action.SUSPEND:
            from jobterm.term.attach_signals import suspend

            suspend(self)
        return False

    async def _force_size(self) -> None:
        rows, cols = terminal_size(self.out_fd)
        if not rows:
            self.notice("this terminal reports no size; nothing to apply")
            return
        self.size = (rows, cols)
        if self.prompt is None:
            async with self._send_lock:
                await self.conn.send(visible_resize_line(rows, cols))
            return
        self._apply(self.prompt.force(rows, cols))
        await self._drain()

    # -- window size and suspend: the signal side lives in attach_signals -------------------
    def window_changed(self) -> None:
        """The local window changed (SIGWINCH, or a resume): follow it."""
        from jobterm.term.attach_signals import window_changed

        window_changed(self)

    # -- the job watcher -----------------------------------------------------------------
    async def _watch(self) -> None:
        """Tell the user once when the job's script has ended and the job waits for them."""
        while True:
            await asyncio.sleep(self.options.watch_interval)
            with contextlib.suppress(JobtermError):
                text = await asyncio.to_thread(self.info.held_notice)
                if text:
                    self.notice(text)
