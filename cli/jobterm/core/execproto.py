"""`jobterm exec` over one PTY byte stream: the remote script and the output parser (sans-I/O).

Theory of operation
-------------------
A GitLab terminal is a single PTY stream: a fresh login shell (`bash -l`, `sh`, busybox…) in
a cooked, echoing terminal of 0x0 cells. It carries no exit status and no end-of-file, and
prompts, banners and the echo of what we type are mixed into it. `exec` builds a framed
channel on top of it in three steps, each waiting for the previous one to show up in the
output, so nothing we type can be mangled or echoed where we read:

1. **Bootstrap line** (typed into whatever shell is there, cooked mode, echoed)::

       exec sh -c '_jt_m=$(stty -g);stty -echo -icanon … isig noflsh intr ^C …&&printf "\\043…"||…'

   It replaces the login shell by a POSIX `sh` (no readline restoring tty modes, no job
   control messages; its exit ends the session), switches the PTY to raw without echo but
   keeps ISIG with only INTR (so 0x03 still interrupts), prints the READY marker and reads
   one line of script with `read -r`. The marker is written as printf octal escapes, so the
   echo of the line, `ps` and history never contain it: it exists only once printed.
   Everything before READY (banners, prompts, echo) is discarded.
2. **Script line** (sent after READY: the tty is raw and silent, so it is neither echoed
   nor line-edited; `read -r` stops at its only newline and cannot eat later input because
   we send nothing more until the next marker). It holds a second, secret nonce that never
   appears in argv, the environment or the echo. It sets the quoted argv (`set -- …`: POSIX
   single quotes; newlines as `"$_jt_n"` so the script stays one line), prints START, runs
   `"$@"` with stdout and stderr into `| cat` (so the command sees a pipe, as with `ssh` or
   `kubectl exec`: no pager, no colours, bytes untouched), prints END + `$?` + `.` into the
   same pipe after the command, then exits (the session ends).
3. **stdin** (only after START, `pipe` mode): base64 lines ended by a line `=`, read by
   `sed -n '/^=$/q;p' | base64 -d` in the background (a raw PTY has no EOF; base64 keeps
   0x03 out of the data so INTR stays usable; background so that a command which exits
   without reading all input is not held up). `null` mode gives `</dev/null`; `tty` mode
   restores the saved cooked modes with the local size and runs the command on the PTY.

The lines are built in `jobterm.core.execscript`. Markers are ``#jt:<nonce>:<kind>.`` (24
random hex digits; `#` only first, so a marker has no border and output ending in a piece of
it cannot combine with the real one). The parser searches only for the marker its state
expects, holds back at most ``len(marker) - 1`` bytes that could be the start of it, and
streams the rest: output is exactly the bytes `cat` wrote between START and END. Exit
status: END is followed by the decimal `$?` and a dot (128+N for signal N in POSIX shells).
Stderr apart (`--stderr`): after the status come Q, the saved stderr, Z.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from jobterm.core.execscript import (
    FAILURES,
    ExecSpec,
    StdinEncoder,
    StdinMode,
    bootstrap_line,
    marker,
    quote,
    script_line,
    shell_argv,
)

__all__ = [
    "FAILURES",
    "Event",
    "ExecSpec",
    "Exited",
    "Failed",
    "Output",
    "Protocol",
    "StdinEncoder",
    "StdinMode",
    "Step",
    "Stream",
    "bootstrap_line",
    "marker",
    "partial_suffix",
    "quote",
    "script_line",
    "shell_argv",
]

#: Hex digits of each per-run nonce (96 random bits).
NONCE_HEX: Final = 24
#: Largest exit status text accepted after END (a POSIX `$?` has at most 3 digits).
MAX_STATUS_DIGITS: Final = 3
#: Bytes of pre-START noise kept for --debug.
NOISE_KEEP: Final = 4096


# ---------------------------------------------------------------- events


class Step(Enum):
    """The remote set-up moved on (events that carry nothing)."""

    READY = "ready"  # the job's terminal is raw and silent: send `Protocol.script` now
    STARTED = "started"  # the command starts now; stdin may flow from here on


class Stream(Enum):
    STDOUT = "stdout"
    STDERR = "stderr"  # only with `stderr_apart`, after the command ended


@dataclass(frozen=True, slots=True)
class Output:
    """Bytes the command wrote, for our stdout or (kept apart) our stderr."""

    data: bytes
    stream: Stream = Stream.STDOUT


@dataclass(frozen=True, slots=True)
class Exited:
    """The command ended: `$?` as POSIX shells give it (128+N when killed by signal N)."""

    status: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The remote set-up failed (reason for the user), or the stream broke the framing."""

    reason: str


Event = Step | Output | Exited | Failed


# ---------------------------------------------------------------- output parsing


class _State(Enum):
    READY = "await READY"
    START = "await START"
    STREAM = "command output"
    STATUS = "exit status"
    STDERR_BEGIN = "await stderr"
    STDERR = "stderr"
    DONE = "done"


def _posix_status(status: int) -> int:
    """ksh reports signal N as 256+N where POSIX shells say 128+N; keep 0-255."""
    if status > 255:
        return min(128 + status - 256, 255)
    return status


def partial_suffix(buf: bytes, needle: bytes) -> int:
    """Length of the longest suffix of `buf` that is a proper prefix of `needle`."""
    start = max(0, len(buf) - len(needle) + 1)
    first = needle[:1]
    i = buf.find(first, start)
    while i != -1:
        if needle.startswith(buf[i:]):
            return len(buf) - i
        i = buf.find(first, i + 1)
    return 0


@dataclass
class Protocol:
    """One `exec` run: the lines to send, and `feed(output) -> events` for what comes back.

    States: READY → START → STREAM → STATUS → (STDERR_BEGIN → STDERR) → DONE. Each waits for
    one marker; `Failed` or `Exited` ends it, and later bytes are ignored.
    """

    spec: ExecSpec
    ready_nonce: bytes = field(default_factory=lambda: secrets.token_hex(NONCE_HEX // 2).encode())
    nonce: bytes = field(default_factory=lambda: secrets.token_hex(NONCE_HEX // 2).encode())

    def __post_init__(self) -> None:
        if self.ready_nonce == self.nonce:
            raise ValueError("the two nonces must differ")
        self._state = _State.READY
        self._buf = b""
        self._status = b""
        self._exit: int | None = None
        self._end = marker(self.nonce, b"E")
        self._stderr_end = marker(self.nonce, b"Z")
        self.noise = b""  # what came before the command started (login banner, echo…)

    # The lines to send --------------------------------------------------------

    @property
    def bootstrap(self) -> bytes:
        return bootstrap_line(self.ready_nonce)

    @property
    def script(self) -> bytes:
        return script_line(self.spec, self.nonce)

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    # Parsing ------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Consume output bytes; return what happened, in order."""
        events: list[Event] = []
        self._buf = self._buf + data if self._buf else data
        while self._buf and self._state is not _State.DONE:
            before = (self._state, len(self._buf))
            self._step(events)
            if (self._state, len(self._buf)) == before:
                break  # needs more data
        return events

    def _step(self, events: list[Event]) -> None:
        state = self._state
        if state is _State.READY:
            self._await(self.ready_nonce, events)
        elif state in (_State.START, _State.STDERR_BEGIN):
            self._await(self.nonce, events)
        elif state is _State.STREAM:
            self._stream(self._end, Stream.STDOUT, _State.STATUS, events)
        elif state is _State.STATUS:
            self._parse_status(events)
        elif state is _State.STDERR:
            self._stream(self._stderr_end, Stream.STDERR, _State.DONE, events)
            if self._state is _State.DONE and self._exit is not None:
                events.append(Exited(self._exit))

    def _await(self, nonce: bytes, events: list[Event]) -> None:
        """Skip noise up to `#jt:<nonce>:<kind>.` and act on its kind."""
        prefix = b"#jt:" + nonce + b":"
        buf = self._buf
        i = buf.find(prefix)
        if i < 0:
            keep = partial_suffix(buf, prefix)
            self._note_noise(buf[: len(buf) - keep])
            self._buf = buf[len(buf) - keep :]
            return
        self._note_noise(buf[:i])
        tail = buf[i + len(prefix) :]
        if len(tail) < 2:
            self._buf = buf[i:]
            return
        kind, closing = tail[:1], tail[1:2]
        if closing != b".":
            self._buf = buf[i + 1 :]  # not a marker after all: rescan from the next byte
            return
        self._buf = tail[2:]
        self._on_marker(kind, events)

    def _on_marker(self, kind: bytes, events: list[Event]) -> None:
        state = self._state
        if state is _State.READY and kind == b"R":
            self._state = _State.START
            events.append(Step.READY)
        elif state is _State.START and kind == b"S":
            self._state = _State.STREAM
            events.append(Step.STARTED)
        elif state is _State.STDERR_BEGIN and kind == b"Q":
            self._state = _State.STDERR
        elif kind in FAILURES and state in (_State.READY, _State.START):
            self._finish(events, Failed(FAILURES[kind]))

    def _stream(self, needle: bytes, stream: Stream, after: _State, events: list[Event]) -> None:
        buf = self._buf
        i = buf.find(needle)
        if i >= 0:
            if i:
                events.append(Output(buf[:i], stream))
            self._buf = buf[i + len(needle) :]
            self._state = after
            return
        keep = partial_suffix(buf, needle)
        if keep < len(buf):
            events.append(Output(buf[: len(buf) - keep], stream))
            self._buf = buf[len(buf) - keep :]

    def _parse_status(self, events: list[Event]) -> None:
        buf = self._buf
        i = buf.find(b".")
        digits = buf if i < 0 else buf[:i]
        if (digits and not digits.isdigit()) or len(digits) > MAX_STATUS_DIGITS:
            self._finish(events, Failed(f"garbled exit status {digits[:8]!r} from the job"))
            return
        if i < 0:
            return  # more digits to come
        if not digits:
            self._finish(events, Failed("empty exit status from the job"))
            return
        status = _posix_status(int(digits))
        self._buf = buf[i + 1 :]
        if self.spec.stderr_apart:
            self._exit = status
            self._state = _State.STDERR_BEGIN
        else:
            self._finish(events, Exited(status))

    def _finish(self, events: list[Event], event: Event) -> None:
        events.append(event)
        self._state = _State.DONE
        self._buf = b""

    def _note_noise(self, data: bytes) -> None:
        if data:
            self.noise = (self.noise + data)[-NOISE_KEEP:]
