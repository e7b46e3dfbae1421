"""`jobterm exec` over one PTY byte stream: the remote script and the output parser (sans-I/O).

Theory of operation
-------------------
A GitLab terminal is a single PTY stream: a fresh login shell (`bash -l`, `sh`, busybox…) in
a cooked, echoing terminal of 0x0 cells. It carries no exit status and no end-of-file, and
prompts, banners and the echo of what we type are mixed into it. `exec` builds a framed
channel on top of it in three steps, each waiting for the previous one to show up in the
output, so nothing we type can be mangled or echoed where we read:

1. **Bootstrap line** (typed into whatever shell is there, cooked mode, echoed)::

       exec sh -c '_jt_m=$(stty -g);stty -echo -icanon … isig intr ^C …&&printf "\\043…"||…'

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

Markers are ``#jt:<nonce>:<kind>.`` (24 random hex digits). The parser searches only for the
marker its state expects, holds back at most ``len(marker) - 1`` bytes that could be the start
of it, and streams the rest: output is exactly the bytes `cat` wrote between START and END.
Exit status: END is followed by the decimal `$?` and a dot (128+N for signal N in POSIX shells).
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

NONCE_HEX: Final = 24
#: Raw bytes per base64 line of stdin (4096 characters a line, well inside sed's limits).
STDIN_LINE: Final = 3072
#: Largest exit status text accepted after END (a POSIX `$?` has at most 3 digits).
MAX_STATUS_DIGITS: Final = 3
#: Bytes of pre-START noise kept for --debug.
NOISE_KEEP: Final = 4096

#: What the remote setup steps report instead of a marker when they fail.
FAILURES: Final[dict[bytes, str]] = {
    b"F": "the job's terminal could not be switched to raw mode (stty failed)",
    b"B": "the job has no `base64` command, which passing standard input needs",
    b"T": "mktemp failed in the job (needed for --stderr)",
}

_SAFE: Final = re.compile(rb"[A-Za-z0-9_@%+=:,./-]+")
#: Bytes a quoted word cannot carry literally in the script line, and their variables.
_SPECIAL: Final = re.compile(rb"([\n\x03])")
_SPECIAL_VARS: Final[dict[bytes, bytes]] = {b"\n": b'"$_jt_n"', b"\x03": b'"$_jt_c"'}


class StdinMode(Enum):
    NULL = "null"  # the command reads /dev/null
    PIPE = "pipe"  # framed (base64) bytes from jobterm's stdin, then EOF
    TTY = "tty"  # the command runs on the PTY, in cooked mode with the local size


@dataclass(frozen=True)
class ExecSpec:
    """What to run and how. `argv` is exact (use `shell_argv` for a shell command line)."""

    argv: tuple[bytes, ...]
    stdin: StdinMode = StdinMode.NULL
    rows: int = 24
    cols: int = 80
    term: str | None = None
    stderr_apart: bool = False

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("empty command")
        if any(b"\0" in arg for arg in self.argv):
            raise ValueError("arguments cannot contain NUL bytes")
        if self.stderr_apart and self.stdin is StdinMode.TTY:
            raise ValueError("stderr cannot be kept apart on a terminal")


def shell_argv(command: str | bytes) -> tuple[bytes, ...]:
    """argv that runs a shell command line with the job's POSIX `sh`."""
    text = command.encode() if isinstance(command, str) else command
    return (b"sh", b"-c", text)


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Ready:
    """The job's terminal is raw and silent: send `Protocol.script` now."""


@dataclass(frozen=True, slots=True)
class Started:
    """The command starts now; stdin may flow from here on."""


@dataclass(frozen=True, slots=True)
class Output:
    data: bytes


@dataclass(frozen=True, slots=True)
class ErrorOutput:
    """Bytes the command wrote to stderr (only with `stderr_apart`, after it ended)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Exited:
    status: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The remote set-up failed (reason for the user), or the stream broke the framing."""

    reason: str


Event = Ready | Started | Output | ErrorOutput | Exited | Failed


# ---------------------------------------------------------------- script building


def quote(arg: bytes) -> bytes:
    """POSIX-sh quoting of one word, as one line that survives a raw PTY with ISIG on.

    Single quotes for everything, except newline (it would end the script line) and 0x03
    (the PTY's INTR character), which become `"$_jt_n"` and `"$_jt_c"` (see `script_line`).
    """
    if _SAFE.fullmatch(arg):
        return arg
    out: list[bytes] = []
    for part in _SPECIAL.split(arg):
        if part in _SPECIAL_VARS:
            out.append(_SPECIAL_VARS[part])
        elif part:
            out.append(b"'" + part.replace(b"'", b"'\\''") + b"'")
    return b"".join(out) or b"''"


def octal(data: bytes) -> bytes:
    """`data` as printf octal escapes: the marker bytes never appear literally anywhere."""
    return b"".join(b"\\%03o" % byte for byte in data)


def marker(nonce: bytes, kind: bytes) -> bytes:
    """`#` only as the first byte: the marker has no border, so output that ends with a part
    of it can never combine with the real one into an earlier false match."""
    return b"#jt:" + nonce + b":" + kind + b"."


_STTY_RAW: Final = (
    b"-echo -icanon -iexten -icrnl -inlcr -igncr -istrip -ixon -ixoff -opost "
    b"isig intr ^C quit undef susp undef min 1 time 0"
)


def bootstrap_line(ready_nonce: bytes) -> bytes:
    """The line typed into the login shell (cooked, echoed; visible in `ps`: no secrets)."""
    ready = octal(marker(ready_nonce, b"R"))
    fail = octal(marker(ready_nonce, b"F"))
    inner = b"".join(
        (
            b"_jt_m=$(stty -g);stty " + _STTY_RAW,
            b'&&printf "' + ready + b'"',
            b'||{ printf "' + fail + b'";exit;}',
            b';trap : INT;IFS= read -r _jt_l;eval "$_jt_l"',
        )
    )
    # The leading space keeps the line out of bash's history (HISTCONTROL=ignorespace).
    return b" exec sh -c '" + inner + b"'\n"


def _fail(nonce: bytes, kind: bytes) -> bytes:
    return b'{ printf "' + octal(marker(nonce, kind)) + b'";exit;}'


def _command_part(spec: ExecSpec, nonce: bytes) -> bytes:
    end = b'printf "' + octal(marker(nonce, b"E")) + b'%d." "$?"'
    run = b'"$@" 5<&-' + (b' 2>"$_jt_e"' if spec.stderr_apart else b" 2>&4") + b" 4>&-"
    if spec.stdin is StdinMode.NULL:
        run += b" </dev/null"
    elif spec.stdin is StdinMode.PIPE:
        reader = b"{ { sed -n '/^=$/q;p'|base64 -d;} <&5 2>/dev/null 4>&- & }"
        run = reader + b"|" + run
    # The subshell survives ^C (trap) so END is still printed; cat ignores it so the
    # command's last words still get through; the command itself gets default SIGINT.
    # The group's own stderr goes nowhere: a shell reports a child killed by a signal
    # ("Terminated") there, and that is not the command's output.
    return b"{ trap : INT;" + run + b";" + end + b";} 4>&1 2>/dev/null|{ trap '' INT;cat;}"


def script_line(spec: ExecSpec, nonce: bytes) -> bytes:
    """The line read by the bootstrap's `read -r` (raw, unechoed): runs the command."""
    parts: list[bytes] = []
    if any(b"\n" in arg for arg in spec.argv):
        parts.append(b"_jt_n=$(printf '\\nx');_jt_n=${_jt_n%x}")
    if any(b"\x03" in arg for arg in spec.argv):
        parts.append(b"_jt_c=$(printf '\\003')")
    parts.append(b"set -- " + b" ".join(quote(arg) for arg in spec.argv))
    if spec.stdin is StdinMode.PIPE:
        parts.append(b"command -v base64 >/dev/null 2>&1||" + _fail(nonce, b"B"))
    parts.append(b"exec 5<&0")
    if spec.stderr_apart:
        parts.append(b"_jt_e=$(mktemp 2>/dev/null)||" + _fail(nonce, b"T"))
    start = b'printf "' + octal(marker(nonce, b"S")) + b'"'
    if spec.stdin is StdinMode.TTY:
        term = b"TERM=" + quote(spec.term.encode()) + b";export TERM;" if spec.term else b""
        parts.append(
            b'stty "$_jt_m" susp undef rows %d cols %d 2>/dev/null;' % (spec.rows, spec.cols)
            + term
            + start
        )
        end = b'printf "' + octal(marker(nonce, b"E")) + b'%d." "$_jt_s"'
        parts.append(b'{ "$@" 5<&- 2>&4 4>&-;_jt_s=$?;} 4>&2 2>/dev/null;' + end)
    else:
        parts.append(start)
        parts.append(_command_part(spec, nonce))
    if spec.stderr_apart:
        begin = b'printf "' + octal(marker(nonce, b"Q")) + b'"'
        done = b'printf "' + octal(marker(nonce, b"Z")) + b'"'
        parts.append(begin + b';cat "$_jt_e";rm -f "$_jt_e";' + done)
    parts.append(b"exit")
    return b";".join(parts) + b"\n"


# ---------------------------------------------------------------- stdin framing


class StdinEncoder:
    """jobterm's stdin as base64 lines, then the end line `=` (see `pipe` mode above)."""

    def __init__(self, line: int = STDIN_LINE) -> None:
        if line <= 0 or line % 3:
            raise ValueError("line must be a positive multiple of 3")
        self._line = line
        self._rest = b""
        self.finished = False

    def encode(self, data: bytes) -> bytes:
        if self.finished:
            raise ValueError("stdin already finished")
        data = self._rest + data if self._rest else data
        usable = len(data) - len(data) % 3
        self._rest = data[usable:]
        step = self._line
        view = memoryview(data)
        lines = (
            binascii.b2a_base64(view[i : min(i + step, usable)]) for i in range(0, usable, step)
        )
        return b"".join(lines)

    def finish(self) -> bytes:
        if self.finished:
            return b""
        self.finished = True
        tail = binascii.b2a_base64(self._rest) if self._rest else b""
        self._rest = b""
        return tail + b"=\n"


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
            self._stream(self._end, Output, _State.STATUS, events)
        elif state is _State.STATUS:
            self._parse_status(events)
        elif state is _State.STDERR:
            self._stream(self._stderr_end, ErrorOutput, _State.DONE, events)
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
            events.append(Ready())
        elif state is _State.START and kind == b"S":
            self._state = _State.STREAM
            events.append(Started())
        elif state is _State.STDERR_BEGIN and kind == b"Q":
            self._state = _State.STDERR
        elif kind in FAILURES and state in (_State.READY, _State.START):
            self._finish(events, Failed(FAILURES[kind]))

    def _stream(
        self,
        needle: bytes,
        kind: type[Output] | type[ErrorOutput],
        after: _State,
        events: list[Event],
    ) -> None:
        buf = self._buf
        i = buf.find(needle)
        if i >= 0:
            if i:
                events.append(kind(buf[:i]))
            self._buf = buf[i + len(needle) :]
            self._state = after
            return
        keep = partial_suffix(buf, needle)
        if keep < len(buf):
            events.append(kind(buf[: len(buf) - keep]))
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
