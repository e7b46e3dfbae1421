"""How one `jobterm exec` run goes and ends, as a pure state machine (sans-I/O).

Theory of operation
-------------------
`execproto.Protocol` parses the job's output; this machine owns one and decides everything
else: what to send, when to read stdin, which timers run, and how the run ends. The adapter
(`jobterm.term.exec`) only does I/O: it hands each happening to one method and carries out
the actions it gets back, in order.

    happening (method)          the machine's answer
    start(spent)                arm the set-up timer (and --timeout), send the bootstrap line
    feed(bytes from the job)    Step.READY: send the script.  Step.STARTED: disarm the set-up
                                timer; read stdin unless it is /dev/null.  Output: write it.
                                Exited: end with its status.  Failed: end with exit 255
    stdin(bytes) / stdin_end()  send them framed (base64 lines, then `=`), or as typed (-t;
                                a piped stdin ends with Ctrl-D as a typed one would)
    fire(Timer.SETUP)           the shell never started the command: end, 255
    fire(Timer.TIMEOUT)         before the start: end, 12.  After: interrupt (below), 12
    fire(Timer.GRACE)           the interrupted command did not stop: end with the reason
    signal(Sig.INT)             interrupt, 130; a second SIGINT ends at once
    signal(Sig.TERM / Sig.HUP)  one last Ctrl-C (for at most a second), end at once, 255
    lost(error)                 the session ended or the link died: end, 255
    crash(error)                a local failure (our stdout went away): end with it

Interrupting sends Ctrl-C (0x03: the script leaves ISIG on with INTR as the only special
character, so the command gets SIGINT) and arms the grace timer; the reason is remembered
and is how the run ends whatever comes next: the command's exit status, the session
dropping, or the grace time passing. Before the command started there is nothing to
interrupt, so the run ends at once. Exactly one `End` comes out; after it every method
returns no actions. Exit 255 is ssh's convention for "jobterm failed, no status from the
command"; the command's own statuses are 0-255.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from jobterm.core.execproto import (
    Event,
    Exited,
    Failed,
    Output,
    Protocol,
    StdinEncoder,
    StdinMode,
    Step,
)
from jobterm.core.frames import Send
from jobterm.errors import ConnectionLostError, ExitCode, JobtermError, TimeoutExpired

INTR: Final = b"\x03"
EOT: Final = b"\x04"
#: How long the last Ctrl-C on SIGTERM/SIGHUP may take to send before jobterm ends anyway.
LAST_CTRL_C: Final = 1.0

LOOK_HINT: Final = (
    "the job needs a POSIX sh with stty; look with `jobterm attach`, or run with --debug"
)


class Timer(Enum):
    SETUP = "setup"  # until the command starts
    TIMEOUT = "timeout"  # --timeout, for the whole run
    GRACE = "grace"  # after Ctrl-C, until the command must have ended


class Sig(Enum):
    INT = "SIGINT"
    TERM = "SIGTERM"
    HUP = "SIGHUP"


@dataclass(frozen=True)
class ExecOptions:
    timeout: float | None = None  # --timeout: whole run, from connecting on
    setup_timeout: float = 60.0  # until the command starts (slow login scripts)
    grace: float = 5.0  # after Ctrl-C, how long the command may take to end


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Arm:
    """Make `timer` fire after `seconds` (None: cancel it)."""

    timer: Timer
    seconds: float | None


@dataclass(frozen=True, slots=True)
class ReadStdin:
    """Start reading our stdin; report each chunk to `stdin()`, its end to `stdin_end()`."""


@dataclass(frozen=True, slots=True)
class End:
    """The run is over: exit with the command's `status`, or fail with `error`."""

    status: int = 0
    error: BaseException | None = None


Action = Send | Arm | ReadStdin | Output | End


class Killed(JobtermError):
    """SIGTERM or SIGHUP ended the run: exit 255 in exec (ssh's "no status"); a caller
    that has no command status to pass on (cp) exits 128+N, as attach does."""

    exit_code = ExitCode.EXEC_FAILED

    def __init__(self, sig: Sig) -> None:
        super().__init__(f"killed by {sig.value}")
        self.sig = sig


class SessionDropped(ConnectionLostError):
    """The session ended before the exit status arrived (exit 255 in exec)."""


def dropped() -> SessionDropped:
    return SessionDropped(
        "the terminal session ended before the command's exit status arrived",
        "the job may have finished or been cancelled; see `jobterm jobs`",
    )


class ExecMachine:
    """One exec run's decisions. Methods take what happened and return actions, in order."""

    def __init__(self, proto: Protocol, options: ExecOptions, stdin_is_tty: bool) -> None:
        self.proto = proto
        self.options = options
        self._stdin_is_tty = stdin_is_tty
        self._encoder = StdinEncoder() if proto.spec.stdin is StdinMode.PIPE else None
        self._started = False  # the command runs: there is something to interrupt
        self._stdin_ended = False
        self._ending: JobtermError | None = None  # why we sent Ctrl-C; how the run ends
        self.result: End | None = None

    @property
    def ended(self) -> bool:
        return self.result is not None

    def start(self, spent: float = 0.0) -> list[Action]:
        """Begin; `spent` seconds of --timeout went on connecting."""
        actions: list[Action] = [Arm(Timer.SETUP, self.options.setup_timeout)]
        if self.options.timeout is not None:
            actions.append(Arm(Timer.TIMEOUT, max(self.options.timeout - spent, 0.0)))
        actions.append(Send(self.proto.bootstrap))
        return actions

    # ---------------------------------------------------------------- the job's output

    def feed(self, data: bytes) -> list[Action]:
        actions: list[Action] = []
        for event in self.proto.feed(data):
            if self.ended:
                break
            actions += self._on_event(event)
        return actions

    def _on_event(self, event: Event) -> list[Action]:
        if isinstance(event, Output):
            return [event]
        if event is Step.READY:
            return [Send(self.proto.script)]
        if event is Step.STARTED:
            self._started = True
            reading = self.proto.spec.stdin is not StdinMode.NULL
            return [Arm(Timer.SETUP, None), *([ReadStdin()] if reading else [])]
        if isinstance(event, Exited):
            return self._end(End(event.status) if self._ending is None else End(error=self._ending))
        assert isinstance(event, Failed)
        return self._fail(event.reason, LOOK_HINT)

    # ---------------------------------------------------------------- our stdin

    @property
    def _reading(self) -> bool:
        """Stdin goes to the command only while it runs, and only until its end."""
        wanted = self.proto.spec.stdin is not StdinMode.NULL
        return wanted and self._started and not self._stdin_ended and not self.ended

    def stdin(self, data: bytes) -> list[Action]:
        if not self._reading or not data:
            return []
        framed = data if self._encoder is None else self._encoder.encode(data)
        return [Send(framed)] if framed else []

    def stdin_end(self) -> list[Action]:
        if not self._reading:
            return []
        self._stdin_ended = True
        if self._encoder is not None:
            return [Send(self._encoder.finish())]
        if not self._stdin_is_tty:
            return [Send(EOT)]  # piped into --tty: end as a typed Ctrl-D would
        return []

    # ---------------------------------------------------------------- timers and signals

    def fire(self, timer: Timer) -> list[Action]:
        if self.ended:
            return []
        if timer is Timer.SETUP and not self._started:
            what = f"within {self.options.setup_timeout:g} s ({self.proto.state})"
            return self._fail(f"the job's shell did not start the command {what}", LOOK_HINT)
        if timer is Timer.TIMEOUT:
            return self._timed_out()
        if timer is Timer.GRACE and self._ending is not None:
            late = f"{self._ending.message}; it did not stop within {self.options.grace:g} s"
            return self._end(End(error=_retold(self._ending, late)))
        return []

    def _timed_out(self) -> list[Action]:
        timeout = self.options.timeout or 0
        if not self._started:
            what = f"the job's shell did not start the command within {timeout:g} s"
            return self._end(End(error=TimeoutExpired(what, LOOK_HINT)))
        what = f"the command did not finish within {timeout:g} s and was sent Ctrl-C"
        return self._interrupt(TimeoutExpired(what, "raise --timeout"))

    def signal(self, sig: Sig) -> list[Action]:
        if self.ended:
            return []
        if sig is Sig.INT:
            interrupted = JobtermError("interrupted", code=ExitCode.INTERRUPTED)
            if self._ending is None:
                return self._interrupt(interrupted)
            return self._end(End(error=interrupted))  # a second Ctrl-C: stop waiting
        last = [Send(INTR, within=LAST_CTRL_C)] if self._started else []
        return last + self._end(End(error=Killed(sig)))

    def _interrupt(self, reason: JobtermError) -> list[Action]:
        """Send Ctrl-C once; the run ends with `reason` however the command then ends."""
        if self._ending is not None:
            return []
        self._ending = reason
        if not self._started:
            return self._end(End(error=reason))
        return [Send(INTR), Arm(Timer.GRACE, self.options.grace)]

    # ---------------------------------------------------------------- failures

    def lost(self, error: JobtermError | None = None) -> list[Action]:
        """The session ended (`error` None) or the link died (`error` says how)."""
        if self.ended:
            return []
        return self._end(End(error=self._ending or error or dropped()))

    def crash(self, error: BaseException) -> list[Action]:
        """Something local failed (writing our stdout, a bug): end with it as it is."""
        return [] if self.ended else self._end(End(error=error))

    def _fail(self, message: str, hint: str) -> list[Action]:
        return self._end(End(error=JobtermError(message, hint, code=ExitCode.EXEC_FAILED)))

    def _end(self, end: End) -> list[Action]:
        self.result = end
        return [end]


def _retold(error: JobtermError, message: str) -> JobtermError:
    """`error` with another message, same kind, hint and exit code."""
    return type(error)(message, error.hint, code=error.exit_code)
