"""`jobterm exec` from start to end: resolve the job, connect, and carry out the run.

Only I/O lives here. `jobterm.core.execrun.ExecMachine` decides everything (see its header:
what is sent when, the timers, how each kind of ending maps to an exit status); this module
feeds it what happens (bytes from the WebSocket, stdin chunks, timers, signals, failures)
and does what it answers: send to the job, write to stdout/stderr, arm a timer, start the
stdin reader, and return or raise at `End`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobterm.aio import within
from jobterm.core.execproto import ExecSpec, Output, Protocol, StdinMode, Stream
from jobterm.core.execrun import (
    Action,
    Arm,
    End,
    ExecMachine,
    ExecOptions,
    ReadStdin,
    SessionDropped,
    Sig,
    Timer,
)
from jobterm.core.frames import Send
from jobterm.errors import (
    BusyError,
    ConnectionLostError,
    ExitCode,
    JobtermError,
    TimeoutExpired,
)
from jobterm.term.connection import SessionEnded, TerminalConnection, TerminalTarget
from jobterm.term.exec_io import InputSource, OutputSink, Sink, Source
from jobterm.term.tty import raw_mode

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.jobs.terminal import ResolvedJob

__all__ = ["ExecOptions", "Streams", "exec_session", "run_exec"]

log = logging.getLogger("jobterm.exec")

_SIGNALS = {signal.SIGINT: Sig.INT, signal.SIGTERM: Sig.TERM, signal.SIGHUP: Sig.HUP}


@dataclass
class Streams:
    """Where a run's bytes come from and go: file descriptors, by default our own stdio.
    `jobterm cp` gives its own sinks and source (a file, a checksum, a progress bar)."""

    stdin: int
    stdout: int
    stderr: int

    def sink(self, stream: Stream) -> Sink:
        return OutputSink(self.stdout if stream is Stream.STDOUT else self.stderr)

    def source(self) -> Source:
        return InputSource(self.stdin)

    def stdin_is_tty(self) -> bool:
        return os.isatty(self.stdin)


class ExecRun:
    """One exec session over an open terminal connection; `run()` returns the exit status."""

    def __init__(
        self,
        conn: TerminalConnection,
        machine: ExecMachine,
        streams: Streams,
        watch: Callable[[bytes], None] | None = None,
    ) -> None:
        self.conn = conn
        self.watch = watch  # sees every byte from the job first (debug's preparation report)
        self.machine = machine
        self.streams = streams
        self._loop = asyncio.get_running_loop()
        self._result: asyncio.Future[int] = self._loop.create_future()
        self._sinks = {Stream.STDOUT: streams.sink(Stream.STDOUT)}
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: dict[Timer, asyncio.TimerHandle] = {}

    async def run(self, spent: float = 0.0) -> int:
        """Run to the end; `spent` seconds of --timeout are already used up."""
        for signum, sig in _SIGNALS.items():
            self._loop.add_signal_handler(signum, self._on_signal, sig)
        self._spawn(self._pump())
        try:
            try:
                await self._apply(self.machine.start(spent))
            except Exception as exc:  # the bootstrap line could not be sent
                self._settle(self._failure(exc))
            status = await self._result
            for sink in self._sinks.values():
                await sink.drain()
            return status
        finally:
            await self._cleanup()

    async def _cleanup(self) -> None:
        # The run may end by another path (the bootstrap send failing) while a task also
        # failed: keep asyncio from printing "exception was never retrieved" on stderr.
        if not self._result.done():
            self._result.cancel()
        elif not self._result.cancelled():
            self._result.exception()
        for signum in _SIGNALS:
            self._loop.remove_signal_handler(signum)
        for timer in self._timers.values():
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        for sink in self._sinks.values():  # on the way out after an error: what arrived, briefly
            with contextlib.suppress(Exception):
                await within(sink.drain(), 2.0)
            sink.close()

    # ---------------------------------------------------------------- carrying out actions

    async def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Output):
                await self._sink(action.stream).write(action.data)
            elif isinstance(action, Send):
                await self._send(action)
            elif isinstance(action, Arm):
                self._arm(action)
            elif isinstance(action, ReadStdin):
                log.debug("command started; passing stdin")
                self._spawn(self._pump_stdin())
            else:
                self._settle([action])

    async def _send(self, action: Send) -> None:
        if action.within is None:
            await self.conn.send(action.data)
            return
        with contextlib.suppress(Exception):  # a last word on the way out: best effort
            await within(self.conn.send(action.data), action.within)

    def _sink(self, stream: Stream) -> Sink:
        if stream not in self._sinks:
            self._sinks[stream] = self.streams.sink(stream)
        return self._sinks[stream]

    def _arm(self, action: Arm) -> None:
        old = self._timers.pop(action.timer, None)
        if old is not None:
            old.cancel()
        if action.seconds is not None:
            handle = self._loop.call_later(action.seconds, self._on_timer, action.timer)
            self._timers[action.timer] = handle

    def _settle(self, actions: list[Action]) -> None:
        """Carry out an `End` (what `lost` and `crash` answer) without waiting."""
        for action in actions:
            if not isinstance(action, End) or self._result.done():
                continue
            if action.error is None:
                log.debug("command exited with status %d", action.status)
                self._result.set_result(action.status)
            else:
                self._result.set_exception(action.error)

    def _failure(self, exc: BaseException) -> list[Action]:
        if isinstance(exc, SessionEnded):
            return self.machine.lost()
        if isinstance(exc, ConnectionLostError):
            return self.machine.lost(exc)
        return self.machine.crash(exc)

    # ---------------------------------------------------------------- the sources of events

    async def _pump(self) -> None:
        while not self.machine.ended:
            data = await self.conn.recv()
            if self.watch is not None:
                self.watch(data)
            await self._apply(self.machine.feed(data))

    async def _pump_stdin(self) -> None:
        source = self.streams.source()
        while not self.machine.ended:
            try:
                data = await source.read()
            except OSError as exc:
                log.debug("reading stdin failed: %s", exc)
                data = b""
            if not data:
                await self._apply(self.machine.stdin_end())
                log.debug("stdin finished")
                return
            await self._apply(self.machine.stdin(data))

    def _on_timer(self, timer: Timer) -> None:
        self._timers.pop(timer, None)
        self._spawn(self._apply(self.machine.fire(timer)))

    def _on_signal(self, sig: Sig) -> None:
        self._spawn(self._apply(self.machine.signal(sig)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._settle(self._failure(error))
            if not self._result.done():
                # The machine had ended already (the command's end came in the same chunk as
                # the output that could not be written): the error is how the run ends.
                self._result.set_exception(error)


#: How long a busy terminal (HTTP 500) is retried: the runner may still be closing the
#: previous session, e.g. of the `jobterm exec` that a script ran just before this one.
BUSY_RETRY = 3.0


async def _open(target: TerminalTarget) -> TerminalConnection:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + BUSY_RETRY
    delay = 0.1
    while True:
        try:
            return await TerminalConnection.open(target)
        except BusyError:
            if loop.time() + delay > give_up:
                raise
            log.debug("terminal busy; retrying in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def exec_session(
    target: TerminalTarget, spec: ExecSpec, streams: Streams, options: ExecOptions
) -> int:
    """Connect, run one command, and return its exit status (errors raise)."""
    proto = Protocol(spec)
    machine = ExecMachine(proto, options, stdin_is_tty=streams.stdin_is_tty())
    loop = asyncio.get_running_loop()
    began = loop.time()
    timeout = options.timeout
    try:
        conn = await within(_open(target), timeout)
    except asyncio.TimeoutError:
        raise TimeoutExpired(f"could not connect within {timeout:g} s", "raise --timeout") from None
    # The local terminal goes raw only once connected: until ExecRun installs its signal
    # handlers, SIGTERM/SIGHUP kill jobterm outright, which must not leave it raw.
    local_raw = spec.stdin is StdinMode.TTY and streams.stdin_is_tty()
    async with conn:
        try:
            with raw_mode(streams.stdin) if local_raw else contextlib.nullcontext():
                run = ExecRun(conn, machine, streams)
                return await run.run(spent=loop.time() - began)  # --timeout counts connecting
        finally:
            if proto.noise:
                log.debug("before the command started, the job's terminal showed: %r", proto.noise)


def run_exec(env: Environment, resolved: ResolvedJob, spec: ExecSpec, options: ExecOptions) -> int:
    """Run `spec` in the resolved job; returns the command's status, raises JobtermError."""
    streams = Streams(env.stdin.fileno(), env.stdout.fileno(), env.stderr.fileno())
    try:
        return asyncio.run(exec_session(resolved.target, spec, streams, options))
    except SessionDropped as exc:
        exc.message += _job_state(resolved)
        exc.exit_code = ExitCode.EXEC_FAILED
        raise
    except JobtermError as exc:
        if exc.exit_code not in (ExitCode.TIMEOUT, ExitCode.INTERRUPTED):
            exc.exit_code = ExitCode.EXEC_FAILED
        raise
    except OSError as exc:  # writing our stdout failed (`| head` went away, or `>&-`)
        raise JobtermError(
            f"could not write the command's output: {exc.strerror or exc}",
            code=ExitCode.EXEC_FAILED,
        ) from None


def _job_state(resolved: ResolvedJob) -> str:
    """What the API says of the job after a dropped session, as a clause for the message."""
    from jobterm.jobs.status import state_clause

    return state_clause(resolved.gitlab, resolved.project, resolved.job_id)
