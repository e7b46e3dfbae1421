"""`jobterm attach` from start to end: resolve the job, connect, run the session, report.

The local terminal is put in raw mode only once the WebSocket is open, and restored before
anything else is printed. After the session, the REST API says what became of the job and
that becomes the one closing line and the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from jobterm.core.escape import shown
from jobterm.core.safetext import visible
from jobterm.errors import ConnectionLostError, ExitCode, JobtermError, NetworkError, UsageError
from jobterm.jobs.status import FINISHED, describe_finish, label, shown_status
from jobterm.jobs.terminal import ResolvedJob, resolve_terminal, with_diagnosis
from jobterm.term.attach import AttachOptions, Outcome, Result, run_interactive
from jobterm.term.connection import TerminalConnection

if TYPE_CHECKING:
    from jobterm.core.prepare import Prepare
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab
    from jobterm.jobs.locate import JobQuery


class JobWatch:
    """`SessionInfo` backed by the REST API (called from a worker thread)."""

    def __init__(self, resolved: ResolvedJob) -> None:
        self.resolved = resolved
        self.held_told = False
        self._prefetch: threading.Thread | None = None

    def job(self) -> dict[str, Any]:
        r = self.resolved
        r.job = r.gitlab.job(r.project, r.job_id)
        return r.job

    def shown(self) -> None:
        """Learn the job's details in a thread once the session shows the job (not sooner:
        importing httpx and asking would hold the interpreter while the terminal connects),
        so the closing line can name the job even if REST fails by the end."""
        if self.resolved.job is None:
            self._prefetch = threading.Thread(target=self._fetch, name="jobterm-job", daemon=True)
            self._prefetch.start()

    def settle(self, timeout: float = 2.0) -> None:
        """Let a prefetch still under way finish first (briefly), rather than ask twice."""
        if self._prefetch is not None:
            self._prefetch.join(timeout)

    def _fetch(self) -> None:
        with contextlib.suppress(JobtermError):
            self.job()

    def is_held(self) -> bool:
        """Whether the runner holds the finished job for this terminal (read from its log)."""
        from jobterm.core.joblog import HELD_LINE  # here: the log reader is slow to import

        r = self.resolved
        try:
            return HELD_LINE in r.gitlab.job_trace(r.project, r.job_id)
        except JobtermError:
            return False

    def status_lines(self, attached_seconds: float) -> list[str]:
        try:
            job = self.job()
        except JobtermError as exc:
            job = dict(self.resolved.job or {"id": self.resolved.job_id})
            job["status"] = f"unknown ({exc.message})"
        runner = (job.get("runner") or {}).get("description") or "unknown runner"
        held = "yes: its script has ended and it waits for you" if self.is_held() else "no"
        lines = [
            f"job {job['id']} '{job.get('name', '')}' ({job.get('stage', '')}), "
            f"status {job.get('status')}",
            f"project {self.resolved.project}, ref {job.get('ref', '')}, runner {runner}",
            f"attached for {_duration(attached_seconds)}; job held for this terminal: {held}",
        ]
        return [visible(line) for line in lines]  # names and statuses are the server's

    def held_notice(self) -> str | None:
        if self.held_told or not self.is_held():
            return None
        self.held_told = True
        return (
            "the job's script has ended; the job is held for this terminal until you leave "
            "(or the runner's session_timeout passes)"
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@contextlib.contextmanager
def _spinner(env: Environment, text: str) -> Iterator[Any]:
    from rich.console import Console

    console = Console(file=env.stderr, stderr=True)
    if not console.is_terminal:
        yield None
        return
    with console.status(text) as status:
        yield status


@contextlib.contextmanager
def _unwind_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise SystemExit(128+N) instead of killing jobterm on the spot, so the
    spinner (hidden cursor) and the picker (raw mode) restore the terminal on the way out."""

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    old = {s: signal.signal(s, unwind) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def _resolve(env: Environment, query: JobQuery) -> ResolvedJob:
    interactive = env.stdin_isatty and env.stdout_isatty
    shown: list[Any] = [None]  # the spinner, while the REST look-ups run

    @contextlib.contextmanager
    def progress() -> Iterator[None]:
        text = "waiting for the job to start…" if query.wait else "finding the job…"
        with _spinner(env, text) as status:
            shown[0] = status
            yield

    def tick(j: dict[str, Any]) -> None:
        if shown[0] is not None:
            shown[0].update(f"{label(j)} is {shown_status(j)}; waiting…")

    def pick(gl: GitLab, path: str) -> int:
        from jobterm.jobs.picker import pick_running_job

        if not interactive:
            raise UsageError("no JOB given", "pass a job id or URL (see `jobterm jobs`)")
        if shown[0] is not None:
            shown[0].stop()
        return pick_running_job(gl, path)

    with _unwind_on_signals():
        return resolve_terminal(env, query, tick=tick, pick=pick, progress=progress)


def run_attach(env: Environment, query: JobQuery, options: AttachOptions) -> int:
    in_fd, out_fd = env.stdin.fileno(), env.stdout.fileno()
    if not (os.isatty(in_fd) and os.isatty(out_fd)):
        raise UsageError(
            "attach needs a terminal on stdin and stdout",
            "for scripts use `jobterm exec JOB -- CMD`",
        )
    resolved = _resolve(env, query)
    with resolved:
        if options.prepare is not None and options.prepare.move:
            options = options._replace(prepare=_facts(resolved, options.prepare))

        def attached() -> None:
            # Said once the handshake is accepted (a refusal prints only why), and before
            # the session reads the window's size: a resize right after this line is then
            # seen by the set-up, not raced by it.
            env.stderr.write(
                f"jobterm: attached to {resolved.label} in {visible(resolved.project)} "
                f"(leave with {_escape_hint(options)})\n"
            )
            env.stderr.flush()

        watch = JobWatch(resolved)
        result = with_diagnosis(
            resolved,
            lambda: asyncio.run(_session(resolved, watch, options, (in_fd, out_fd), attached)),
        )
        watch.settle()
        return _report(env, resolved, result)


def _escape_hint(options: AttachOptions) -> str:
    if options.escape_char is None:
        return "exit"
    char = shown(options.escape_char)
    return f"{char}. at the start of a line; {char}? for help"


async def _session(
    resolved: ResolvedJob,
    watch: JobWatch,
    options: AttachOptions,
    fds: tuple[int, int],
    attached: Callable[[], None],
) -> Result:
    conn = await TerminalConnection.open(resolved.target)
    async with conn:
        attached()
        return await run_interactive(conn, options, watch, *fds)


def _facts(resolved: ResolvedJob, prepare: Prepare) -> Prepare:
    """--prepare: what the REST API and the job's log say of the job, before connecting."""
    from jobterm.core.prepare import predefined
    from jobterm.jobs.actions import build_dir_from_log

    r = resolved
    try:
        job = r.job if r.job is not None else r.gitlab.job(r.project, r.job_id)
    except JobtermError:
        return prepare  # the handshake says what is wrong; moving is best effort
    build_dir = build_dir_from_log(r.gitlab, r.project, r.job_id)
    return prepare._replace(facts=predefined(job, r.project, build_dir))


def _report(env: Environment, resolved: ResolvedJob, result: Result) -> int:
    """One closing line from what the API says became of the job; returns the exit code.

    Every way a session ends has its own line and code: a signal (128+N), a lost link (10)
    or a broken protocol (9) from the session itself; after a drop or `~.`, the job's status
    from the REST API: finished (13), held and now finishing (0), still running (0); and
    when that check fails, the instance's error (its own code: 9 for an HTTP error, 3 when
    signed out), or `ConnectionLostError` (10) when the instance does not answer at all.
    """
    if result.outcome is Outcome.SIGNALLED:
        assert result.signal is not None
        name = signal.Signals(result.signal).name
        env.stderr.write(f"jobterm: {name} received; detached from {resolved.label}\n")
        return 128 + result.signal
    if result.outcome is Outcome.LOST:
        assert result.error is not None
        raise result.error
    watch = JobWatch(resolved)
    try:
        job = watch.job()
    except JobtermError as exc:
        return _unchecked(env, resolved, result, exc)
    status = job.get("status")
    if status in FINISHED:
        env.stderr.write(f"jobterm: {describe_finish(job)}\n")
        return int(ExitCode.JOB_ENDED if result.outcome is Outcome.ENDED else ExitCode.OK)
    if status == "running" and watch.is_held():
        env.stderr.write(
            "jobterm: the job's script ended; the job waited for this terminal and is now "
            "finishing\n"
        )
        return int(ExitCode.OK)
    status = shown_status(job)
    if result.outcome is Outcome.DETACHED:
        env.stderr.write(f"jobterm: detached from {resolved.label}, which is still {status}\n")
    else:
        env.stderr.write(
            f"jobterm: the terminal session ended; {resolved.label} is still {status}\n"
        )
    return int(ExitCode.OK)


def _unchecked(env: Environment, resolved: ResolvedJob, result: Result, exc: JobtermError) -> int:
    """The session ended and the REST API could not say what became of the job."""
    host = resolved.target.host_label or "the instance"
    if result.outcome is Outcome.DETACHED:  # the user left: their choice, whatever the job does
        env.stderr.write(
            f"jobterm: detached from {resolved.label}; its status is unknown "
            f"({visible(exc.message)})\n"
        )
        return int(ExitCode.OK)
    if isinstance(exc, NetworkError):
        raise ConnectionLostError(
            f"the terminal connection dropped and {host} did not answer ({exc.message})",
            f"the job may still be running: check it with `jobterm jobs` once {host} is back",
        ) from None
    raise JobtermError(
        f"the terminal connection dropped and {host} answered the status check with an "
        f"error: {exc.message}",
        exc.hint or "the job may still be running; try `jobterm jobs` in a moment",
        code=exc.exit_code,
    ) from None
