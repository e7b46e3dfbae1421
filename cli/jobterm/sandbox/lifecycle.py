"""Jobs with a life: pending -> running -> success/failed/canceled, as a GitLab Runner runs them.

Theory of operation. `TimedJobLife` is the sandbox's `JobLife` (see state.py). It keeps, per
job, when the sandbox saw it become pending and running, and derives deadlines from the job's
`pending_seconds` / `script_seconds` and the instance's `session_timeout`:

    pending --(pending_seconds pass, or start())--> running
    running --(script_seconds pass, or end_script())--> script result (success/failed)
            \\ a terminal is attached: "held" (still running, held_for_terminal) --+
            \\ the docker executor: the terminal drops with the build container    |
    held --(the terminal detaches)------------------------> script result      |
    held --(session_timeout passes since the script ended)--> script result  <-+
    any active state --(finish(), e.g. cancel)--> the given status

A job with a real `script` has no script_seconds deadline: script.py runs its commands and
calls end_script() with their result. The life also writes the runner's lines into the
job's log (runnerlog.py): the header when the job starts, the end of the script, the held
terminal, and the final line.

It has no clock and no timers of its own: `advance(now)` applies whatever is due at `now`
and `next_deadline()` says when something next falls due, so tests drive it with any clock.
`LifeDriver` is the asyncio task that calls `advance(state.clock())` at those deadlines.
Every status change goes through `state.set_job_status`; a job that reaches a final status
by any path (REST cancel too) loses its terminal, dropped without a Close frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from jobterm.aio import wait_set
from jobterm.sandbox import runnerlog
from jobterm.sandbox.state import FINISHED, Job, SandboxState

MAX_SLEEP = 0.5  # the driver re-reads the clock at least this often (clocks may be replaced)


def _nothing() -> None:
    pass


class AttachedTerminal(Protocol):
    """What the job life needs of an attached terminal (workhorse.TerminalSession)."""

    def drop(self, reason: str) -> None:
        """End the connection at once, without a Close frame."""


class TimedJobLife:
    """Moves jobs through their life by deadlines; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._pending_since: dict[int, float] = {}
        self._running_since: dict[int, float] = {}
        self._held_result: dict[int, str] = {}
        self.wake: Callable[[], None] = (
            _nothing  # set by the driver: something changed, recompute deadlines
        )
        # Set by the terminal side, which owns the directories: fetches a starting job's
        # sources into its build directory (executors.py) and says what git found.
        self.sources: Callable[[Job], runnerlog.Sources | None] = lambda job: None
        state.on_job_change(self._on_change)

    def adopt(self, now: float) -> None:
        """Take over the jobs that exist now: their timers start now."""
        for job in self.state.jobs.values():
            self._track(job, now)

    def _track(self, job: Job, now: float) -> None:
        if job.status == "pending":  # a created job waits for its stage (pipelines.py)
            self._pending_since.setdefault(job.id, now)
        elif job.status == "running":
            self._running_since.setdefault(job.id, now)
            if not job.trace:
                sources = self.sources(job)
                job.trace += runnerlog.job_start(job, self.state.runner_of(job), now, sources)
                if job.script is None:
                    job.trace += runnerlog.echo(f"./{job.name.replace(':', '-')}.sh").encode()

    # -- JobLife ---------------------------------------------------------------------------

    def start(self, job: Job, now: float) -> None:
        if job.status in FINISHED or job.status == "running":
            return
        self._running_since[job.id] = now
        self.state.set_job_status(job, "running", now)

    def end_script(self, job: Job, now: float, status: str | None = None) -> None:
        if job.status in FINISHED or job.held_for_terminal:
            return
        result = status or job.script_result
        job.script_ended_at = now
        if job.exit_code is None:
            job.exit_code = 0 if result == "success" else 1
        job.trace += runnerlog.script_end(now, result, job.artifacts)
        self._running_since.pop(job.id, None)
        runner = self.state.runner_of(job)
        if job.terminal is not None and (runner is None or runner.executor != "docker"):
            # GitLab Runner: the job waits for the attached terminal, up to session_timeout.
            job.held_for_terminal = True
            self._held_result[job.id] = result
            job.trace += runnerlog.terminal_connected(self.state.settings.session_timeout)
            self.wake()
        else:
            # With the docker executor the build container exits: its terminal drops too.
            self.state.set_job_status(job, result, now)

    def finish(self, job: Job, status: str, now: float) -> None:
        self.state.set_job_status(job, status, now)  # _on_change drops the terminal

    def detached(self, job: Job, now: float) -> None:
        """The job's terminal went away: a held job finishes now."""
        if job.held_for_terminal:
            job.trace += runnerlog.terminal_disconnected()
            self.state.set_job_status(job, self._held_result.get(job.id, job.script_result), now)

    # -- deadlines -------------------------------------------------------------------------

    def _deadline(self, job: Job) -> float | None:
        if job.held_for_terminal and job.script_ended_at is not None:
            return job.script_ended_at + self.state.settings.session_timeout
        since = self._running_since.get(job.id)
        seconds = job.script_seconds if job.script is None else None  # a real script ends itself
        if job.status == "running" and since is not None and seconds is not None:
            return since + seconds
        since = self._pending_since.get(job.id)
        if job.status == "pending" and since is not None:
            return None if job.pending_seconds is None else since + job.pending_seconds
        return None

    def next_deadline(self) -> float | None:
        deadlines = [d for d in map(self._deadline, self.state.jobs.values()) if d is not None]
        return min(deadlines, default=None)

    def advance(self, now: float) -> None:
        """Apply every transition due at `now`."""
        for job in list(self.state.jobs.values()):
            deadline = self._deadline(job)
            if deadline is None or deadline > now:
                continue
            if job.held_for_terminal:
                timeout = self.state.settings.session_timeout
                job.trace += runnerlog.terminal_timed_out(timeout)
                self.state.set_job_status(job, self._held_result.get(job.id, "success"), now)
            elif job.status == "running":
                self.end_script(job, now)
            else:
                self.start(job, now)

    def _on_change(self, job: Job) -> None:
        now = self.state.clock()
        if job.status in FINISHED:
            for table in (self._pending_since, self._running_since, self._held_result):
                table.pop(job.id, None)
            if job.trace:
                job.trace += runnerlog.job_end(job.status, job.exit_code)
            terminal = job.terminal
            if terminal is not None:
                terminal.drop(f"job {job.status}")
        else:
            self._track(job, now)
        self.wake()

    def describe(self, job: Job) -> dict[str, object]:
        """The job's life as the control API reports it."""
        return {
            "id": job.id,
            "status": job.status,
            "held_for_terminal": job.held_for_terminal,
            "terminal_attached": job.terminal is not None,
            "script_ended_at": job.script_ended_at,
            "next_transition_at": self._deadline(job),
        }


class LifeDriver:
    """The asyncio side: calls `life.advance(clock())` whenever a deadline may have passed."""

    def __init__(self, life: TimedJobLife) -> None:
        self.life = life
        self._changed = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self.life.wake = self._changed.set
        self.life.adopt(self.life.state.clock())
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        # The flag as well as the cancel: a cancel that lands as a job changes must stop the
        # loop even if something in it were to lose the cancel (see jobterm/aio.py).
        self._stopping = True
        self._changed.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})  # its CancelledError stays in it; a cancel of
            self._task = None  # stop() itself still reaches the caller

    async def _run(self) -> None:
        state = self.life.state
        while not self._stopping:
            self._changed.clear()
            # state.clock is looked up each time: the control API may replace it.
            self.life.advance(state.clock())
            deadline = self.life.next_deadline()
            sleep = MAX_SLEEP if deadline is None else min(MAX_SLEEP, deadline - state.clock())
            if sleep <= 0.01:
                await asyncio.sleep(0.01)  # never spin, even if a deadline will not clear
            if sleep > 0.01:
                await wait_set(self._changed, sleep)
