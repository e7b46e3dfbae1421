"""`jobterm watch`'s event loop: the adapter around core.watchflow.

Theory of operation. Tasks turn the world into the flow's events on one queue: the poller
asks REST for the pipeline and its jobs (every `poll` seconds) and for the log of each job
that is armed or held (every `log_poll`: the delay between the runner's "Terminal is
connected" and a release is one such interval); a connect task opens a job's terminal and a
drain task per connection reads what the shell prints (thrown away: nothing is typed, the
WebSocket's keepalive needs a reader) until the connection drops. SIGINT, SIGTERM and SIGHUP
end the watch: every held job is released.

The main loop feeds each event to the flow, carries out its actions and redraws the table.
`Failed` rings the bell, sends a desktop notification where `notify-send` can, prints the
failed command and the log's last lines as `debug` does, and queues the job: when nothing else
is on the screen, its connection goes to `term.handover` (a prepared shell, or --exec's
command), and when that ends the job is released and the table comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import termios
import time
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from jobterm.core import watchflow as flow
from jobterm.core.joblog import JobLogReader, one_line
from jobterm.core.prepare import Prepare, predefined
from jobterm.errors import AuthError, BusyError, JobtermError, NotFoundError
from jobterm.jobs.actions import read_trace_bytes
from jobterm.term import handover
from jobterm.term.connection import SessionEnded, TerminalConnection
from jobterm.term.logs import LogFollower
from jobterm.term.watch_view import View

if TYPE_CHECKING:
    from jobterm.core.execscript import ExecSpec
    from jobterm.gitlab.api import GitLab
    from jobterm.term.attach import AttachOptions

#: How long a job's terminal may keep answering 404 while its runner's session comes up.
SESSION_WAIT = 15.0


class WatchOptions(NamedTuple):
    attach: AttachOptions
    settings: flow.Settings = flow.Settings()
    shell: bool = True  # hand a failed job's shell over (False: --no-shell, print only)
    exec_spec: ExecSpec | None = None
    prepare: bool = True
    poll: float = 0.5
    log_poll: float = 0.2


class _Job(NamedTuple):
    """What the loop keeps of a job beside the flow's view: its JSON and its log."""

    json: dict[str, Any]
    reader: JobLogReader
    follower: LogFollower


class WatchRun:
    def __init__(
        self,
        gl: GitLab,
        project: str,
        pipeline: dict[str, Any],
        options: WatchOptions,
        fds: tuple[int, int, int],
    ) -> None:
        self.gl, self.project, self.pipeline, self.opts = gl, project, pipeline, options
        self.fds = fds
        self.flow = flow.WatchFlow(options.settings)
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.conns: dict[int, TerminalConnection] = {}
        self.drains: dict[int, asyncio.Task[None]] = {}
        self.jobs: dict[int, _Job] = {}
        self.failed: list[tuple[int, str]] = []  # held failures waiting for the user
        self.first_refusal: dict[int, float] = {}
        self.attending: asyncio.Task[None] | None = None  # a failed job given to the user
        self.keys: asyncio.Task[None] | None = None
        self.me = str(gl.user().get("username"))
        title = f"pipeline {pipeline['id']} of {project} ({pipeline.get('ref', '')})"
        self.view = View(fds[1], one_line(title))

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._signals()
        try:
            self._spawn(self._scripts())
            self._spawn(self._poll())
            self._spawn(self._poll_logs())
            with self._quiet_keys():
                self._listen()
                return await self._loop()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            await self._stop_tasks()
            for job_id in list(self.conns):
                await self._release(job_id)

    @contextlib.contextmanager
    def _quiet_keys(self) -> Iterator[None]:
        """Keys typed while the table shows are not echoed into it (Ctrl-C stays a signal);
        a handed-over shell puts the terminal in raw mode and back."""
        if not os.isatty(self.fds[0]):
            yield
            return
        from jobterm.term.debug_io import cbreak_mode

        with cbreak_mode(self.fds[0]):
            yield

    async def _loop(self) -> int:
        while True:
            event = await self.queue.get()
            if isinstance(event, int):  # a signal: release everything and go
                self.view.say(f"{signal.Signals(event).name} received; released every held job")
                return 128 + event
            if isinstance(event, JobtermError):
                raise event
            for action in self.flow.feed(event):
                if isinstance(action, flow.Finish):
                    self.view.show(self.flow.rows())
                    return action.code
                await self._do(action)
            self.view.show(self.flow.rows())
            if self.failed and self.attending is None:  # one at a time; the loop goes on
                self.attending = self._spawn(self._attend(*self.failed.pop(0)))

    async def _do(self, action: flow.Action) -> None:
        if isinstance(action, flow.Connect):
            self._spawn(self._connect(action.job_id))
        elif isinstance(action, flow.Release):
            await self._release(action.job_id)
        elif isinstance(action, flow.Failed):
            self._announce(action.job_id, action.how)
            if self.opts.shell or self.opts.exec_spec is not None:
                self.failed.append((action.job_id, action.how))
            else:  # --no-shell: said; holding it longer would serve no one
                self.queue.put_nowait(flow.Done(action.job_id))

    def _listen(self) -> None:
        """Keys at the table, on a terminal: `o` opens the newest job kept with an unknown
        result, `r` lets every such job go (stopped while a shell has the keys)."""
        if os.isatty(self.fds[0]) and self.attending is None:
            self.keys = self._spawn(self._keys())

    async def _keys(self) -> None:
        from jobterm.term.debug_io import read_some

        while data := await read_some(self.fds[0]):
            if b"o" in data:
                self.queue.put_nowait(flow.Open())
            if b"r" in data:
                self.queue.put_nowait(flow.ReleaseUnknown())

    # -- tasks -----------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _stop_tasks(self) -> None:
        tasks = list(self.tasks) + list(self.drains.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _scripts(self) -> None:
        """Each job's script, from CI lint at the pipeline's commit (to tell a failure)."""
        from urllib.parse import quote

        path = f"/projects/{quote(self.project, safe='')}/ci/lint"
        params = {"content_ref": str(self.pipeline.get("sha", "")), "include_jobs": "true"}
        try:
            answer = await asyncio.to_thread(self.gl.get, path, what="CI lint", params=params)
        except JobtermError:
            return  # a job whose last line ran stays unknown; nothing is told wrongly
        scripts = {
            str(job.get("name")): tuple(str(line) for line in job.get("script") or ())
            for job in (answer.get("jobs") or [] if isinstance(answer, dict) else [])
        }
        self.queue.put_nowait(flow.Scripts(scripts))

    async def _poll(self) -> None:
        pid = int(self.pipeline["id"])
        while True:
            try:
                pipeline, jobs = await asyncio.to_thread(self._look, pid)
            except AuthError as exc:
                self.queue.put_nowait(exc)
                return
            except JobtermError:
                await asyncio.sleep(self.opts.poll)
                continue
            views = tuple(self._view(job) for job in jobs)
            now = time.monotonic()
            self.queue.put_nowait(flow.Jobs(now, views, str(pipeline.get("status"))))
            await asyncio.sleep(self.opts.poll)

    def _look(self, pid: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from urllib.parse import quote

        path = f"/projects/{quote(self.project, safe='')}/pipelines/{pid}"
        pipeline = self.gl.get(path, what=f"pipeline {pid}")
        jobs = self.gl.pipeline_jobs(self.project, pid)
        latest: dict[str, dict[str, Any]] = {}
        for job in sorted(jobs, key=lambda j: int(j["id"])):
            latest[str(job.get("name"))] = job  # a retry replaces the try it retried
        for job in latest.values():
            if int(job["id"]) not in self.jobs:
                reader = JobLogReader(colour=False)
                job_id = int(job["id"])

                def fetch(job_id: int = job_id) -> bytes:
                    return read_trace_bytes(self.gl, self.project, job_id)

                self.jobs[job_id] = _Job(job, reader, LogFollower(fetch, reader))
            self.jobs[int(job["id"])] = self.jobs[int(job["id"])]._replace(json=job)
        return pipeline, list(latest.values())

    def _view(self, job: dict[str, Any]) -> flow.JobView:
        user = (job.get("user") or {}).get("username")
        return flow.JobView(
            id=int(job["id"]),
            name=str(job.get("name", "")),
            stage=str(job.get("stage", "")),
            status=str(job.get("status", "")),
            mine=user == self.me,
            duration=float(job["duration"]) if job.get("duration") is not None else None,
        )

    async def _poll_logs(self) -> None:
        watched = (flow.Phase.ARMING, flow.Phase.ARMED, flow.Phase.KEPT)
        while True:
            await asyncio.sleep(self.opts.log_poll)
            ids = [t.view.id for t in self.flow.rows() if t.phase in watched]
            for job_id in ids:
                facts = await asyncio.to_thread(self._facts, job_id)
                if facts is not None:
                    self.queue.put_nowait(flow.Log(job_id, facts))

    def _facts(self, job_id: int) -> flow.LogFacts | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        with contextlib.suppress(JobtermError):
            job.follower.poll()
        s = job.reader.summary
        held = s.terminal_held is not None
        timeout = flow.go_seconds(s.terminal_held) if s.terminal_held else None
        sections = tuple(s.sections)
        return flow.LogFacts(s.executor, s.script_ended, held, s.last_command, sections, timeout)

    async def _connect(self, job_id: int) -> None:
        from jobterm.jobs.locate import ws_url_for
        from jobterm.jobs.terminal import terminal_target

        job = self.jobs[job_id].json
        if not job.get("web_url"):
            self.queue.put_nowait(flow.Refused(job_id, "GitLab gave no address for it"))
            return
        target = terminal_target(self.gl, ws_url_for(str(job["web_url"]), self.gl.host), job_id)
        try:
            if not await asyncio.to_thread(self._has_terminal, job_id):
                raise NotFoundError("no terminal_path")
            conn = await TerminalConnection.open(target)
        except NotFoundError:
            first = self.first_refusal.setdefault(job_id, time.monotonic())
            late = time.monotonic() - first > SESSION_WAIT  # its runner's session may come up
            why = "no terminal (a runner without [session_server], as GitLab.com's own)"
            await asyncio.sleep(0 if late else 0.5)
            self.queue.put_nowait(flow.Refused(job_id, why, final=late))
            return
        except BusyError:
            self.queue.put_nowait(flow.Refused(job_id, "another terminal is attached"))
            return
        except JobtermError as exc:
            self.queue.put_nowait(exc if isinstance(exc, AuthError) else flow.Dropped(job_id))
            return
        self.conns[job_id] = conn
        self.drains[job_id] = asyncio.get_running_loop().create_task(self._drain(job_id, conn))
        self.queue.put_nowait(flow.Opened(job_id))

    def _has_terminal(self, job_id: int) -> bool:
        """Whether the job page offers a terminal now (`terminal_path`, the web JSON)."""
        try:
            return bool(self.gl.web_job(self.project, job_id).get("terminal_path"))
        except JobtermError:
            return True  # the handshake then says what is wrong

    async def _drain(self, job_id: int, conn: TerminalConnection) -> None:
        with contextlib.suppress(SessionEnded, JobtermError):
            while True:
                await conn.recv()
        if self.conns.get(job_id) is conn:
            self.queue.put_nowait(flow.Dropped(job_id))

    async def _release(self, job_id: int) -> None:
        drain = self.drains.pop(job_id, None)
        if drain is not None:
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)
        conn = self.conns.pop(job_id, None)
        if conn is not None:
            await conn.close()  # the runner lets the job finish now

    # -- a failed job ----------------------------------------------------------------------
    def _announce(self, job_id: int, how: str) -> None:
        job = self.jobs[job_id]
        name = one_line(str(job.json.get("name", "")))
        s = job.reader.summary
        lines = [f"job {job_id} '{name}' {how}"]
        if s.last_command is not None:
            lines.append(f"its script ended after `{one_line(s.last_command)}`")
            if s.last_output:
                lines[-1] += f": {one_line(s.last_output)}"
        with contextlib.suppress(OSError):
            os.write(self.fds[1], b"\a")
        _notify(f"jobterm: job {job_id} '{name}' failed", lines[-1])
        self.view.say("\n".join(lines))

    async def _attend(self, job_id: int, how: str) -> None:
        """Give the user the failed job (or run --exec in it), then release it. A task of
        its own: meanwhile the loop goes on releasing, arming and deciding (the table waits
        while a shell has the screen)."""
        try:
            await self._give(job_id)
        finally:
            self.attending = None
            self.view.resume()
            self._listen()
            self.queue.put_nowait(flow.Done(job_id))

    async def _give(self, job_id: int) -> None:
        conn = self.conns.get(job_id)
        if conn is None:
            return
        if self.keys is not None:
            self.keys.cancel()
            await asyncio.gather(self.keys, return_exceptions=True)
            self.keys = None
        drain = self.drains.pop(job_id, None)
        if drain is not None:
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)
        job = self.jobs[job_id]
        s = job.reader.summary
        facts = predefined(job.json, self.project, s.build_dir, s.executor)
        prepare = Prepare(facts, self.opts.prepare)
        if self.opts.exec_spec is not None:
            await self._exec(job_id, conn, prepare)
        else:
            await self._shell(job_id, conn, prepare)

    async def _shell(self, job_id: int, conn: TerminalConnection, prepare: Prepare) -> None:
        from jobterm.term.debug_io import ShellInfo

        held = self.jobs[job_id].reader.summary.terminal_held or "its timeout"
        self.view.forget()  # the table stays on the screen above the shell
        self.view.say(f"the shell of job {job_id}; exit releases it (held up to {held})")
        self.view.pause()  # other jobs' news waits for the table's return
        with contextlib.suppress(termios.error, OSError):  # keys typed at the table stay there
            termios.tcflush(self.fds[0], termios.TCIFLUSH)
        info = ShellInfo(
            self.gl, self.project, self.jobs[job_id].json, self.jobs[job_id].reader.summary
        )
        options = self.opts.attach._replace(prepare=prepare, fresh=False)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        try:
            status, _ = await handover.shell(conn, options, info, self.fds[:2], self.view.say)
        finally:
            self._signals()
        if status is not None and status < 0:  # SIGTERM or SIGHUP in the shell: all goes
            self.queue.put_nowait(-status)

    async def _exec(self, job_id: int, conn: TerminalConnection, prepare: Prepare) -> None:
        from jobterm.term.fanout import fan_out

        assert self.opts.exec_spec is not None
        spec = self.opts.exec_spec

        async def run(stdin: int, stdout: int, stderr: int) -> int:
            fds = (stdin, stdout, stderr)
            return await handover.command(conn, spec, prepare, fds, lambda _: None)

        try:
            await fan_out([(str(job_id), run)], self.fds[1], self.fds[2], False)
        finally:
            self._signals()  # exec's run took them over and gave them up

    def _signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.queue.put_nowait, signum)


def _notify(title: str, body: str) -> None:
    """A desktop notification where `notify-send` can show one (a session bus); else none."""
    program = shutil.which("notify-send")
    if program is None or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.Popen(
            [program, "--app-name=jobterm", title, body],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
