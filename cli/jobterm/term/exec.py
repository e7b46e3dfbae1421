"""`jobterm exec` from start to end: resolve the job, run the exec protocol, exit like ssh.

The adapter around `jobterm.core.execproto` (see its header for the framing). One task pumps
the WebSocket into the parser and the parser's events out: `Ready` sends the script,
`Started` starts the stdin pump, `Output` goes to stdout, `Exited` ends the run with the
command's status. Everything else ends the run through `_finish` with an error:

* the session drops (or the link dies) before `Exited` → exit 255 with one line, as ssh does;
* the shell does not reach `Ready`/`Started` within `setup_timeout` → 255;
* `--timeout` passes → Ctrl-C (0x03) is sent, the command gets `grace` seconds to end, then
  the run ends with exit 12 (TIMEOUT);
* SIGINT → Ctrl-C is sent the same way, exit 130; a second SIGINT ends at once. SIGTERM and
  SIGHUP send Ctrl-C too and end at once with 255 (as ssh: "killed by signal"). 0x03
  reaches the remote command as SIGINT because the script leaves ISIG on with INTR as the
  only special character.

Every jobterm failure inside `exec` exits 255 (the command's own codes are 0-255, so only
ssh's convention is unambiguous), except a timeout (12) and an interrupt (130).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobterm.core.execproto import (
    ErrorOutput,
    Event,
    ExecSpec,
    Exited,
    Failed,
    Output,
    Protocol,
    Ready,
    Started,
    StdinEncoder,
    StdinMode,
)
from jobterm.errors import (
    BusyError,
    ConnectionLostError,
    ExitCode,
    JobtermError,
    ReaderGone,
    TimeoutExpired,
)
from jobterm.term.connection import SessionEnded, TerminalConnection, TerminalTarget
from jobterm.term.exec_io import InputSource, OutputSink
from jobterm.term.tty import raw_mode

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.term.target import ResolvedJob

log = logging.getLogger("jobterm.exec")

INTR = b"\x03"
EOT = b"\x04"


@dataclass
class ExecOptions:
    timeout: float | None = None  # --timeout: whole run, from connecting on
    setup_timeout: float = 60.0  # until the command starts (slow login scripts)
    grace: float = 5.0  # after Ctrl-C, how long the command may take to end


@dataclass
class Streams:
    stdin: int
    stdout: int
    stderr: int


class ExecRun:
    """One exec session over an open terminal connection; `run()` returns the exit status."""

    def __init__(
        self, conn: TerminalConnection, proto: Protocol, streams: Streams, options: ExecOptions
    ) -> None:
        self.conn = conn
        self.proto = proto
        self.streams = streams
        self.options = options
        self._loop = asyncio.get_running_loop()
        self._result: asyncio.Future[int] = self._loop.create_future()
        self._stdout = OutputSink(streams.stdout)
        self._stderr: OutputSink | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []
        self._ending: JobtermError | None = None  # set once Ctrl-C was sent on our behalf

    async def run(self, spent: float = 0.0) -> int:
        """Run to the end; `spent` seconds of --timeout are already used up."""
        signals = self._install_signals()
        self._setup_timer = self._loop.call_later(self.options.setup_timeout, self._no_start)
        self._timers.append(self._setup_timer)
        if self.options.timeout is not None:
            left = max(self.options.timeout - spent, 0.0)
            self._timers.append(self._loop.call_later(left, self._timed_out))
        self._spawn(self._pump())
        try:
            try:
                await self.conn.send(self.proto.bootstrap)
            except SessionEnded:
                raise _dropped() from None
            status = await self._result
            await self._stdout.drain()
            if self._stderr is not None:
                await self._stderr.drain()
            return status
        finally:
            # The run may end by another path (the bootstrap send failing) while a task also
            # failed: keep asyncio from printing "exception was never retrieved" on stderr.
            if not self._result.done():
                self._result.cancel()
            elif not self._result.cancelled():
                self._result.exception()
            for signum in signals:
                self._loop.remove_signal_handler(signum)
            for timer in self._timers:
                timer.cancel()
            for task in self._tasks:
                task.cancel()
            for sink in (self._stdout, self._stderr):
                if sink is not None:  # on the way out after an error: what arrived, briefly
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(sink.drain(), 2.0)
                    sink.close()

    # ---------------------------------------------------------------- the output side

    async def _pump(self) -> None:
        try:
            while not self._result.done():
                data = await self.conn.recv()
                for event in self.proto.feed(data):
                    await self._on_event(event)
        except SessionEnded:
            self._finish(self._ending or _dropped())
        except ConnectionLostError as exc:
            self._finish(self._ending or exc)
        except OSError as exc:  # our stdout is gone (e.g. a closed pipe)
            self._finish(exc)

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Output):
            await self._stdout.write(event.data)
        elif isinstance(event, Ready):
            log.debug("job's shell ready; sending the script")
            await self.conn.send(self.proto.script)
        elif isinstance(event, Started):
            log.debug("command started")
            self._setup_timer.cancel()
            if self.proto.spec.stdin is not StdinMode.NULL:
                self._spawn(self._pump_stdin())
        elif isinstance(event, ErrorOutput):
            if self._stderr is None:
                self._stderr = OutputSink(self.streams.stderr)
            await self._stderr.write(event.data)
        elif isinstance(event, Exited):
            log.debug("command exited with status %d", event.status)
            if self._ending is not None:
                self._finish(self._ending)
            elif not self._result.done():
                self._result.set_result(event.status)
        elif isinstance(event, Failed):
            self._finish(JobtermError(event.reason, _look_hint()))

    # ---------------------------------------------------------------- the input side

    async def _pump_stdin(self) -> None:
        source = InputSource(self.streams.stdin)
        raw = self.proto.spec.stdin is StdinMode.TTY
        encoder = None if raw else StdinEncoder()
        while True:
            try:
                data = await source.read()
            except OSError as exc:
                log.debug("reading stdin failed: %s", exc)
                data = b""
            if not data:
                break
            await self.conn.send(data if encoder is None else encoder.encode(data))
        if encoder is not None:
            await self.conn.send(encoder.finish())
        elif not os.isatty(self.streams.stdin):
            await self.conn.send(EOT)  # piped into --tty: end as a typed Ctrl-D would
        log.debug("stdin finished")

    # ---------------------------------------------------------------- ending

    def _interrupt(self, reason: JobtermError) -> None:
        """Send Ctrl-C once; end with `reason` when the command ends or `grace` passes."""
        if self._ending is not None:
            return
        self._ending = reason
        if self.proto.done or not self._started:
            self._finish(reason)
            return
        self._spawn(self.conn.send(INTR))
        self._timers.append(self._loop.call_later(self.options.grace, self._grace_over))

    @property
    def _started(self) -> bool:
        return self.proto.state not in ("await READY", "await START")

    def _grace_over(self) -> None:
        if self._ending is not None:
            self._ending.message += f"; it did not stop within {self.options.grace:g} s"
            self._finish(self._ending)

    def _timed_out(self) -> None:
        timeout = self.options.timeout or 0
        if not self._started:
            what = f"the job's shell did not start the command within {timeout:g} s"
            self._finish(TimeoutExpired(what, _look_hint()))
            return
        self._interrupt(
            TimeoutExpired(
                f"the command did not finish within {timeout:g} s and was sent Ctrl-C",
                "raise --timeout",
            )
        )

    def _no_start(self) -> None:
        self._finish(
            JobtermError(
                f"the job's shell did not start the command within "
                f"{self.options.setup_timeout:g} s ({self.proto.state})",
                _look_hint(),
            )
        )

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGINT:
            interrupted = JobtermError("interrupted", code=ExitCode.INTERRUPTED)
            if self._ending is None:
                self._interrupt(interrupted)
            else:
                self._finish(interrupted)  # a second Ctrl-C: stop waiting
            return
        name = signal.Signals(signum).name
        self._spawn(self._last_ctrl_c(JobtermError(f"killed by {name}", code=ExitCode.EXEC_FAILED)))

    async def _last_ctrl_c(self, error: JobtermError) -> None:
        """Try to interrupt the command (briefly), then end with `error`."""
        if self._started and not self.proto.done:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.send(INTR), 1.0)
        self._finish(error)

    def _install_signals(self) -> list[int]:
        wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        for signum in wanted:
            self._loop.add_signal_handler(signum, self._on_signal, signum)
        return list(wanted)

    def _finish(self, error: BaseException) -> None:
        if not self._result.done():
            self._result.set_exception(error)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, SessionEnded):
            self._finish(self._ending or _dropped())
        elif exc is not None:
            self._finish(exc)


class SessionDropped(ConnectionLostError):
    """The session ended before `Exited` (exit 255 in exec)."""


def _dropped() -> JobtermError:
    return SessionDropped(
        "the terminal session ended before the command's exit status arrived",
        "the job may have finished or been cancelled; see `jobterm jobs`",
    )


def _look_hint() -> str:
    return "the job needs a POSIX sh with stty; look with `jobterm attach`, or run with --debug"


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
    loop = asyncio.get_running_loop()
    began = loop.time()
    timeout = options.timeout
    try:
        conn = await asyncio.wait_for(_open(target), timeout)
    except asyncio.TimeoutError:
        raise TimeoutExpired(f"could not connect within {timeout:g} s", "raise --timeout") from None
    # The local terminal goes raw only once connected: until ExecRun installs its signal
    # handlers, SIGTERM/SIGHUP kill jobterm outright, which must not leave it raw.
    local_raw = spec.stdin is StdinMode.TTY and os.isatty(streams.stdin)
    async with conn:
        try:
            with raw_mode(streams.stdin) if local_raw else contextlib.nullcontext():
                run = ExecRun(conn, proto, streams, options)
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
    except BrokenPipeError:  # the reader of our stdout went away (`| head`)
        raise ReaderGone() from None
    except OSError as exc:  # writing our stdout failed (e.g. it is closed)
        raise JobtermError(
            f"could not write the command's output: {exc.strerror or exc}",
            code=ExitCode.EXEC_FAILED,
        ) from None


def _job_state(resolved: ResolvedJob) -> str:
    """What the API says of the job after a dropped session, as a clause for the message."""
    from jobterm.term.target import FINISHED

    try:
        job = resolved.gitlab.job(resolved.project, int(resolved.job["id"]))
    except JobtermError:
        return ""
    if job.get("status") in FINISHED:
        return f" (job {job['id']} finished: {job.get('status')})"
    return f" (job {job['id']} is {job.get('status')})"
