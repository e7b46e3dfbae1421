"""The remote side of `jobterm exec`: the lines typed into the job's shell, and stdin framing.

Pure functions and values; `jobterm.core.execproto` explains the design (its header) and
parses what comes back. Everything here is POSIX sh: it must run under bash, dash and
busybox sh alike, and reach them through a PTY (see `quote` for the bytes that cannot).
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

#: Raw bytes per base64 line of stdin (4096 characters a line, well inside sed's limits).
STDIN_LINE: Final = 3072

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


# `noflsh`: a Ctrl-C (SIGINT from the line discipline) must not flush the terminal's output
# queue, or output the command already wrote would vanish from the middle of stdout.
_STTY_RAW: Final = (
    b"-echo -icanon -iexten -icrnl -inlcr -igncr -istrip -ixon -ixoff -opost "
    b"isig noflsh intr ^C quit undef susp undef min 1 time 0"
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
