"""What `jobterm debug` does next, from what it has seen so far: a pure state machine.

Theory of operation. Once the (retried) job runs, the adapter (term/debug.py) reports
events: handshake answers, the terminal opening or dropping, facts read from the job's log
(core/joblog.py), the job's REST status, the user's keys, Ctrl-C. `DebugFlow.feed(event)`
returns actions: say a line, try the handshake (again, after a delay), hand the terminal to
the user, cancel the job, or finish with an exit code. Times come in the events (seconds on
any monotonic clock); the machine keeps no clock of its own.

    CONNECTING --TerminalOpened--> WAITING --TerminalHeld in the log, ~s, --shell-now--> SHELL
        |  404/500: Connect again until session_wait has passed, then Finish (no session
        |  server / another terminal); 302/401: Finish (signed out)
        |  the job finished first: Finish (the script ended before a terminal could attach)
    WAITING: docker executor in the log -> warn once; the terminal dropped -> the docker
        executor ended it with the script (Finish after the final status), or try the
        handshake once more (a signed-out session then finishes with AUTH)
    SHELL --ShellEnded--> Finish(wait_final)
    any phase but SHELL: ~. or Ctrl-C -> Finish (cancel the job first with cancel_on_interrupt)

The GitLab Runner holds a job only for a terminal attached when its script ends (spec
section 7): that is why the terminal is opened at once and kept while the log is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from jobterm.core.joblog import (
    Executor,
    JobFinished,
    ScriptEnded,
    Summary,
    TerminalHeld,
    one_line,
)
from jobterm.errors import ExitCode

HANDSHAKE_RETRY = 0.1  # seconds between handshakes while the runner's session comes up


class Phase(Enum):
    CONNECTING = "connecting"
    WAITING = "waiting"  # terminal open, the script still runs, its log is shown
    SHELL = "shell"  # the user has the terminal (or --exec runs in it)
    DONE = "done"


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TerminalOpened:
    now: float


@dataclass(frozen=True, slots=True)
class TerminalRefused:
    status: int  # the handshake's HTTP status
    now: float


@dataclass(frozen=True, slots=True)
class TerminalDropped:
    now: float


@dataclass(frozen=True, slots=True)
class LogFact:
    fact: Executor | ScriptEnded | TerminalHeld | JobFinished


@dataclass(frozen=True, slots=True)
class LogUnavailable:
    reason: str


@dataclass(frozen=True, slots=True)
class JobStatus:
    status: str
    now: float


@dataclass(frozen=True, slots=True)
class SignedOut:
    """REST stopped accepting the web session (it expired, or was signed out)."""


@dataclass(frozen=True, slots=True)
class ShellKey:
    """~s typed while the log is shown."""


@dataclass(frozen=True, slots=True)
class Leave:
    interrupted: bool  # Ctrl-C (True) or ~. (False)


@dataclass(frozen=True, slots=True)
class ShellEnded:
    dropped: bool = False  # the server ended the session (not the user leaving)


FlowEvent = (
    TerminalOpened
    | TerminalRefused
    | TerminalDropped
    | LogFact
    | LogUnavailable
    | JobStatus
    | SignedOut
    | ShellKey
    | Leave
    | ShellEnded
)

# -- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Connect:
    delay: float


@dataclass(frozen=True, slots=True)
class HandOver:
    banner: str


@dataclass(frozen=True, slots=True)
class CancelJob:
    pass


@dataclass(frozen=True, slots=True)
class Finish:
    code: int | None  # None: by the job's final status (0 success, 1 otherwise)
    message: str = ""
    hint: str | None = None
    wait_final: bool = False  # wait (briefly) for the job's final status and report it


Action = Say | Connect | HandOver | CancelJob | Finish

FINISHED = frozenset({"success", "failed", "canceled", "skipped"})


@dataclass
class Settings:
    job_id: int
    started: float  # when the job was seen running
    session_wait: float = 15.0  # how long 404/500 handshakes are retried
    shell_now: bool = False
    exec_mode: bool = False
    cancel_on_interrupt: bool = False
    escape: str = "~"  # as shown to the user; "" when escapes are off


class DebugFlow:
    """See the module docstring."""

    def __init__(self, settings: Settings, summary: Summary) -> None:
        self.s = settings
        self.summary = summary  # the log reader's, kept up to date by the adapter
        self.phase = Phase.CONNECTING
        self.docker_warned = False
        self.log_told = False
        self.reconnecting = False

    def start(self) -> list[Action]:
        return [Connect(0.0)]

    def feed(self, event: FlowEvent) -> list[Action]:
        if self.phase is Phase.DONE:
            return []
        if isinstance(event, Leave):
            return self._leave(event.interrupted)
        if self.phase is Phase.SHELL:
            return self._shell_ended(event) if isinstance(event, ShellEnded) else []
        if isinstance(event, LogUnavailable):
            return self._log_unavailable(event.reason)
        if isinstance(event, SignedOut):
            return self._signed_out("expired while waiting for")
        if isinstance(event, LogFact):
            return self._fact(event.fact)
        if isinstance(event, JobStatus):
            return self._status(event)
        if self.phase is Phase.CONNECTING:
            return self._connecting(event)
        return self._waiting(event)

    # -- phases ----------------------------------------------------------------------------

    def _connecting(self, event: FlowEvent) -> list[Action]:
        if isinstance(event, TerminalOpened):
            self.phase = Phase.WAITING
            self.reconnecting = False
            if self.s.shell_now or self.summary.terminal_held:
                return self._hand_over()
            return self._docker_warning()
        if isinstance(event, TerminalRefused):
            return self._refused(event)
        return []

    def _waiting(self, event: FlowEvent) -> list[Action]:
        if isinstance(event, ShellKey) and not self.s.exec_mode:
            return self._hand_over()
        if isinstance(event, TerminalDropped):
            if self.summary.executor == "docker":
                return self._finish(None, self._docker_ended(), wait_final=True)
            self.phase = Phase.CONNECTING
            self.reconnecting = True
            return [Say("the terminal connection dropped; opening it again"), Connect(0.0)]
        return []

    def _refused(self, event: TerminalRefused) -> list[Action]:
        job = f"job {self.s.job_id}"
        if event.status in (301, 302, 303, 401):
            return self._signed_out(
                "expired while waiting for" if self.reconnecting else "was not accepted by"
            )
        if event.now - self.s.started < self.s.session_wait:
            return [Connect(HANDSHAKE_RETRY)]
        waited = f"{self.s.session_wait:g} s"
        if event.status == 500:
            return self._finish(
                ExitCode.BUSY,
                f"another terminal is attached to {job} (still refused after {waited})",
                "close the other terminal (a browser tab?) and try again",
            )
        return self._finish(
            ExitCode.FORBIDDEN,
            f"{job} is running but its terminal did not open within {waited}: its runner has "
            "no session server",
            "the runner needs a [session_server] section in its config.toml",
        )

    def _signed_out(self, what: str) -> list[Action]:
        return self._finish(
            ExitCode.AUTH,
            f"your GitLab session {what} job {self.s.job_id}'s terminal; the job goes on "
            "without one",
            "run `jobterm login`, then `jobterm debug` again",
        )

    def _status(self, event: JobStatus) -> list[Action]:
        if event.status not in FINISHED:
            return []
        job = f"job {self.s.job_id}"
        if self.phase is Phase.CONNECTING or self.reconnecting:
            seconds = max(event.now - self.s.started, 0.0)
            return self._finish(
                ExitCode.SCRIPT_ENDED_FIRST, *ended_first(job, event.status, seconds)
            )
        if self.summary.executor == "docker":
            message = self._docker_ended()
        else:
            message = f"{job} finished ({event.status}) without waiting for the terminal"
        return self._finish(None, message, wait_final=True)

    def _shell_ended(self, event: ShellEnded) -> list[Action]:
        # The shell's `exit` drops the connection too: only the docker case needs words.
        message = (
            self._docker_ended() if event.dropped and self.summary.executor == "docker" else ""
        )
        return self._finish(None, message, wait_final=True)

    def _docker_ended(self) -> str:
        return (
            f"job {self.s.job_id}'s shell ended with its script: with the docker executor "
            "the build container, and its terminal, stop when the script ends"
        )

    def _fact(self, fact: Executor | ScriptEnded | TerminalHeld | JobFinished) -> list[Action]:
        if isinstance(fact, Executor) and self.phase is Phase.WAITING:
            return self._docker_warning()
        if isinstance(fact, TerminalHeld) and self.phase is Phase.WAITING:
            return self._hand_over()
        return []

    def _log_unavailable(self, reason: str) -> list[Action]:
        if self.log_told:
            return []
        self.log_told = True
        how = f"; {self.s.escape}s opens the shell now" if self.s.escape else ""
        return [Say(f"the job's log is unavailable ({reason}); still waiting{how}")]

    def _docker_warning(self) -> list[Action]:
        if self.docker_warned or self.summary.executor != "docker" or self.s.exec_mode:
            return []
        self.docker_warned = True
        how = f"; press {self.s.escape}s to get a shell now" if self.s.escape else ""
        return [Say(f"this job uses the docker executor: its shell ends with the script{how}")]

    def _hand_over(self) -> list[Action]:
        self.phase = Phase.SHELL
        return [HandOver(banner(self.s.job_id, self.summary, self.s.escape))]

    def _leave(self, interrupted: bool) -> list[Action]:
        if self.phase is Phase.SHELL:
            return []  # the session handles its own keys and Ctrl-C
        actions: list[Action] = []
        job = f"job {self.s.job_id}"
        if interrupted and self.s.cancel_on_interrupt:
            actions.append(CancelJob())
            message = f"cancelled {job}"
        else:
            message = f"left {job}; it runs on without a terminal and finishes by itself"
        code = ExitCode.INTERRUPTED if interrupted else ExitCode.OK
        return actions + self._finish(code, message)

    def _finish(
        self, code: int | None, message: str = "", hint: str | None = None, wait_final: bool = False
    ) -> list[Action]:
        self.phase = Phase.DONE
        return [Finish(code, message, hint, wait_final)]


def ended_first(job: str, status: str, seconds: float) -> tuple[str, str]:
    """The message and hint when the script ended before a terminal could attach."""
    return (
        f"{job} finished ({status}) {seconds:.0f} s after it started, before a terminal could "
        "attach; GitLab holds a job only for a terminal attached before its script ends",
        "its log is above; `jobterm debug` retries it again",
    )


def banner(job_id: int, summary: Summary, escape: str) -> str:
    """What the user reads when the terminal becomes theirs."""
    leave = f"exit or {escape}." if escape else "exit"
    if summary.terminal_held is None:
        first = f"job {job_id}'s script is still running; this shell is beside it"
    elif summary.last_command is not None:
        first = f"job {job_id}'s script ended after `{one_line(summary.last_command)}`"
        if summary.last_output:
            first += f": {one_line(summary.last_output)}"
    else:
        first = f"job {job_id}'s script ended"
    lines = [first]  # where the shell is and what it has: the preparation's own line
    if summary.terminal_held is not None:
        lines.append(f"the job is held until you leave ({leave}) or {summary.terminal_held} pass")
    else:
        lines.append(f"leave with {leave}")
    return "\n".join(lines)
