"""`jobterm debug`'s event loop: the adapter around core.debugflow.

Theory of operation. Tasks turn the outside world into the flow's events on one queue:

* the poller asks REST for the job's status (every `pending_interval` while it waits for a
  runner, a spinner showing how long) and, once it runs, the job's log (every
  `log_interval`): new lines are shown at once (core.joblog made them safe) and its facts
  (executor, script ended, terminal held) become events; a log request that fails is
  `LogUnavailable` and the loop goes on;
* a connect task tries the terminal handshake when the flow says so, and once open a drain
  task reads the terminal's output (thrown away: the user sees the log meanwhile, and the
  WebSocket's keepalive needs a reader) until the connection drops;
* the keys task reads the local terminal in cbreak mode (Ctrl-C stays a signal) through an
  EscapeParser with `~s`, `~.` and `~?`; SIGINT, SIGTERM and SIGHUP are `Leave` events.

The main loop feeds each event to the flow and carries out its actions. `HandOver` stops
the tasks and gives the open connection to the same session code `attach` uses (raw mode,
size set-up, escapes) or, with --exec, to exec's `ExecRun`. `Finish` closes the terminal
(releasing a held job), waits briefly for the job's final status when asked, and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobterm.aio import get_within
from jobterm.core import debugflow as flow
from jobterm.core.escape import ATTACH_ACTIONS, Action, Command, EscapeParser, shown
from jobterm.core.joblog import (
    Executor,
    JobFinished,
    JobLogReader,
    ScriptEnded,
    TerminalHeld,
    one_line,
)
from jobterm.core.prepare import Prepare, predefined
from jobterm.errors import AuthError, BusyError, ExitCode, JobtermError, NotFoundError
from jobterm.jobs.actions import cancel_job, read_trace_bytes
from jobterm.jobs.status import FINISHED
from jobterm.term import handover
from jobterm.term.connection import SessionEnded, TerminalConnection, TerminalTarget
from jobterm.term.debug_io import (
    DEBUG_HELP,
    DebugOptions,
    Ending,
    Notices,
    ShellInfo,
    cbreak_mode,
    not_cancelled,
    read_some,
)
from jobterm.term.logs import LogFollower
from jobterm.term.tty import write_all

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab


@dataclass(frozen=True)
class _Fatal:
    error: JobtermError


@dataclass(frozen=True)
class _Tick:
    """The job's status while it waits for a runner."""

    job: dict[str, Any]


class DebugRun:
    def __init__(
        self,
        gl: GitLab,
        project: str,
        job: dict[str, Any],
        target: TerminalTarget,
        opts: DebugOptions,
        fds: tuple[int, int, int],
    ) -> None:
        self.gl, self.project, self.job, self.target, self.opts = gl, project, job, target, opts
        self.job_id = int(job["id"])
        self.in_fd, self.out_fd, self.err_fd = fds
        self.log_fd = self.err_fd if opts.exec_spec is not None else self.out_fd
        self.reader = JobLogReader(colour=os.isatty(self.log_fd))
        self.follower = LogFollower(lambda: read_trace_bytes(gl, project, self.job_id), self.reader)
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.flow: flow.DebugFlow | None = None
        self.conn: TerminalConnection | None = None
        self.handed_over = False
        self.shown_escape = shown(opts.attach.escape_char) if opts.attach.escape_char else ""
        self.waiting_since = time.monotonic()
        self.notes = Notices(self.err_fd)
        self.leave_cbreak: Callable[[], None] = lambda: None
        self.cancel_error: JobtermError | None = None  # --cancel-on-interrupt's cancel failed

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> Ending:
        # Imported now, not at the first handshake: that one races the job's script.
        import websockets.asyncio.client  # noqa: F401

        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        for signum in signals:
            loop.add_signal_handler(signum, self.queue.put_nowait, flow.Leave(True))
        try:
            with self._cbreak():
                self._spawn(self._poll())
                if self._keys_wanted():
                    self._spawn(self._keys())
                return await self._loop()
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
            await self._stop_tasks()
            if self.conn is not None:
                await self.conn.close()

    async def _loop(self) -> Ending:
        while True:
            event = await self.queue.get()
            if isinstance(event, _Fatal):
                raise event.error
            if self.flow is None:
                ending = self._pending(event)
                if ending is not None:
                    return ending
                continue
            for action in self.flow.feed(event):
                ending = await self._do(action)
                if ending is not None:
                    return ending

    def _pending(self, event: Any) -> Ending | None:
        if isinstance(event, flow.Leave):
            if event.interrupted and self.opts.cancel_on_interrupt:
                self._cancel_job()
                if self.cancel_error is not None:
                    return not_cancelled(self.job, self.cancel_error, 130)
                return Ending(130, f"cancelled job {self.job_id} before it started")
            return Ending(
                130 if event.interrupted else 0,
                f"left job {self.job_id} while it waited for a runner; it will run without a "
                "terminal",
            )
        if isinstance(event, flow.JobStatus) and event.status == "running":
            self._begin(event.now)
        elif isinstance(event, flow.JobStatus) and event.status in FINISHED:
            status = one_line(event.status)
            if self.job.get("started_at") is None:
                return Ending(ExitCode.JOB_STATE, f"job {self.job_id} ended ({status}) unstarted")
            # It ran between two looks: the script ended before a terminal could attach.
            seconds = float(self.job.get("duration") or 0.0)
            message, hint = flow.ended_first(f"job {self.job_id}", status, seconds)
            self._show_log_now()
            return Ending(ExitCode.SCRIPT_ENDED_FIRST, message, hint)
        elif isinstance(event, _Tick):
            waited = time.monotonic() - self.waiting_since
            status = one_line(str(event.job.get("status")))
            self.notes.status(
                f"job {self.job_id} is {status} ({waited:.0f} s); waiting for a runner…"
            )
        return None

    def _begin(self, now: float) -> None:
        """The job runs: from now on the flow decides, starting with the handshake."""
        self.notes.clear()
        settings = flow.Settings(
            job_id=self.job_id,
            started=now,
            session_wait=self.opts.session_wait,
            shell_now=self.opts.shell_now,
            exec_mode=self.opts.exec_spec is not None,
            cancel_on_interrupt=self.opts.cancel_on_interrupt,
            escape=self.shown_escape,
        )
        self.flow = flow.DebugFlow(settings, self.reader.summary)
        for action in self.flow.start():
            assert isinstance(action, flow.Connect)
            self._spawn(self._connect(action.delay))

    async def _do(self, action: flow.Action) -> Ending | None:
        if isinstance(action, flow.Say):
            self.notes.say(action.text)
        elif isinstance(action, flow.Connect):
            self._spawn(self._connect(action.delay))
        elif isinstance(action, flow.CancelJob):
            await asyncio.to_thread(self._cancel_job)
        elif isinstance(action, flow.HandOver):
            status, dropped = await self._hand_over(action.banner)
            for follow in self.flow.feed(flow.ShellEnded(dropped)) if self.flow else []:
                if isinstance(follow, flow.Finish):
                    return await self._finish(follow, status)
        elif isinstance(action, flow.Finish):
            return await self._finish(action, None)
        return None

    # -- tasks -------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _stop_tasks(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll(self) -> None:
        while True:
            if self.flow is not None:
                await self._poll_log()
            try:
                job = await asyncio.to_thread(self.gl.job, self.project, self.job_id)
            except JobtermError as exc:
                self.queue.put_nowait(await self._poll_failed(exc))
                return
            self.job = job
            self.queue.put_nowait(flow.JobStatus(str(job.get("status")), time.monotonic()))
            if self.flow is None:
                self.queue.put_nowait(_Tick(job))
            running = self.flow is not None or job.get("status") == "running"
            await asyncio.sleep(self.opts.log_interval if running else self.opts.pending_interval)

    async def _poll_failed(self, error: JobtermError) -> Any:
        """A REST look at the job failed: a signed-out session (GitLab then answers 404 for
        a private project) is the flow's business; anything else ends the run."""
        if not isinstance(error, AuthError | NotFoundError):
            return _Fatal(error)
        try:
            await asyncio.to_thread(self.gl.user)
        except AuthError:
            return flow.SignedOut() if self.flow is not None else _Fatal(error)
        except JobtermError:
            pass
        return _Fatal(error)

    async def _poll_log(self) -> None:
        try:
            events = await asyncio.to_thread(self.follower.poll)
        except JobtermError as exc:
            self.queue.put_nowait(flow.LogUnavailable(exc.message))
            return
        self._show_log(events)

    def _show_log_now(self) -> None:
        """The rest of the log, before a message that points at it."""
        with contextlib.suppress(JobtermError):
            self._show_log(self.follower.poll() + self.reader.finish(), facts=False)

    def _catch_up(self) -> None:
        """The log as far as it has come (the shell taken early: it may not be read yet)."""
        with contextlib.suppress(JobtermError):
            self._show_log(self.follower.poll(), facts=False)

    def _show_log(self, events: list[Any], facts: bool = True) -> None:
        data = b"".join(e.data for e in events if hasattr(e, "data"))
        if data:
            write_all(self.log_fd, data)
        for event in events if facts else ():
            if isinstance(event, Executor | ScriptEnded | TerminalHeld | JobFinished):
                self.queue.put_nowait(flow.LogFact(event))

    async def _connect(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            conn = await TerminalConnection.open(self.target)
        except (NotFoundError, BusyError, AuthError) as exc:
            self.queue.put_nowait(flow.TerminalRefused(_http_status(exc), time.monotonic()))
            return
        except JobtermError as exc:
            self.queue.put_nowait(_Fatal(exc))
            return
        self.conn = conn
        self._spawn(self._drain(conn))
        self.queue.put_nowait(flow.TerminalOpened(time.monotonic()))

    async def _drain(self, conn: TerminalConnection) -> None:
        with contextlib.suppress(SessionEnded, JobtermError):
            while True:
                await conn.recv()
        self.queue.put_nowait(flow.TerminalDropped(time.monotonic()))

    def _keys_wanted(self) -> bool:
        return self.opts.exec_spec is None and os.isatty(self.in_fd)

    async def _keys(self) -> None:
        parser = EscapeParser(self.opts.attach.escape_char, ATTACH_ACTIONS | {Action.SHELL})
        told = False
        while data := await read_some(self.in_fd):
            for event in parser.feed(data):
                if isinstance(event, Command):
                    self._key(event.action)
                elif not told and event.data.strip(b"\r\n"):  # typed for a shell not yet there
                    told = True
                    how = f"{self.shown_escape}s" if self.shown_escape else "--shell-now"
                    self.notes.say(f"the shell is not yours yet: {how} gives it now")

    def _key(self, action: Action) -> None:
        if action is Action.SHELL:
            self.queue.put_nowait(flow.ShellKey())
        elif action is Action.DISCONNECT:
            self.queue.put_nowait(flow.Leave(False))
        elif action is Action.HELP:
            self.notes.say(DEBUG_HELP.format(c=self.shown_escape or "~").rstrip("\n"))

    # -- actions -----------------------------------------------------------------------------

    def _cancel_job(self) -> None:
        """Cancel the job; a failure is kept, for the closing line to say so."""
        try:
            cancel_job(self.gl, self.project, self.job_id)
        except JobtermError as exc:
            self.cancel_error = exc

    @contextlib.contextmanager
    def _cbreak(self) -> Iterator[None]:
        if not self._keys_wanted():
            yield
            return
        with cbreak_mode(self.in_fd) as restore:
            self.leave_cbreak = restore
            yield

    async def _hand_over(self, banner: str) -> tuple[int | None, bool]:
        """The terminal becomes the user's (or runs --exec): the command's status (if any;
        -N for signal N), and whether the server ended the session."""
        await self._stop_tasks()
        self.handed_over = True
        conn = self.conn
        assert conn is not None
        if self.opts.prepare and self.reader.summary.build_dir is None:
            await asyncio.to_thread(self._catch_up)  # the log may name it by now
        self.notes.say(banner)
        s = self.reader.summary
        facts = predefined(self.job, self.project, s.build_dir, s.executor)
        prepare = Prepare(facts, self.opts.prepare)
        fds = (self.in_fd, self.out_fd, self.err_fd)
        if self.opts.exec_spec is not None:
            spec = self.opts.exec_spec
            return await handover.command(conn, spec, prepare, fds, self.notes.say), False
        self.leave_cbreak()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        info = ShellInfo(self.gl, self.project, self.job, self.reader.summary)
        options = self.opts.attach._replace(prepare=prepare)
        ended = await handover.shell(conn, options, info, fds[:2], self.notes.say)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.queue.put_nowait, flow.Leave(True))
        return ended

    async def _finish(self, action: flow.Finish, status: int | None) -> Ending:
        await self._stop_tasks()
        if self.conn is not None:
            await self.conn.close()  # a held job is released now
            self.conn = None
        if action.code == ExitCode.SCRIPT_ENDED_FIRST:
            await asyncio.to_thread(self._show_log_now)
        job = await self._final_status() if action.wait_final else None
        if not self.handed_over and action.wait_final:  # how the log ends, e.g. its result
            await asyncio.to_thread(self._show_log_now)
        self._show_log(self.reader.finish())
        if status is not None and status < 0:
            return Ending(
                128 - status, f"signal {-status} received; left job {self.job_id}", job=job
            )
        if job is None and action.wait_final:  # Ctrl-C while waiting for the final status
            return Ending(130, f"stopped waiting; job {self.job_id} finishes by itself")
        if self.cancel_error is not None:
            return not_cancelled(self.job, self.cancel_error, action.code or ExitCode.INTERRUPTED)
        return Ending(action.code, action.message, action.hint, job, status)

    async def _final_status(self) -> dict[str, Any] | None:
        """The job once finished (or as it is after `final_wait`); None on Ctrl-C."""
        deadline = time.monotonic() + self.opts.final_wait
        job = self.job
        while True:
            with contextlib.suppress(JobtermError):
                job = await asyncio.to_thread(self.gl.job, self.project, self.job_id)
            if job.get("status") in FINISHED or time.monotonic() >= deadline:
                self.notes.clear()
                return job
            self.notes.status(f"waiting for job {self.job_id} to finish…")
            came, event = await get_within(self.queue, 0.2)
            if came and isinstance(event, flow.Leave):
                self.notes.clear()
                return None


def _http_status(error: JobtermError) -> int:
    """The handshake's answer behind connection.handshake_error's mapping."""
    if isinstance(error, NotFoundError):
        return 404
    return 500 if isinstance(error, BusyError) else 401
