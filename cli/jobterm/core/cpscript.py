"""The remote side of `jobterm cp`: the two sh programs it runs in the job, and their answers.

`cp` rides on `exec` (see `execproto`'s header): the job's terminal is switched to raw and
silent, the program below runs with exact argv, its stdout arrives byte for byte, its
stdin arrives through exec's base64 framing (so no byte is touched by the line discipline,
and input frames stay within 16 KiB), and its exit status comes back. Both programs are
POSIX sh with POSIX tools only (plus a sha256 tool where the job has one), so they run
under bash, dash and busybox alike; `tests/core/test_cp_core.py` runs them in each.

The checksum: sha256 where the job can compute it, else POSIX `cksum`. For sha256 the
programs prefer `openssl dgst -sha256`, if it answers the known digest of nothing, to
`sha256sum`: OpenSSL's assembly is several times faster than coreutils' on most CPUs, and
the job's checksum runs beside the stream, on the job's CPU.

Download (`GET`, argv: PATH): answers on stdout one header line
``jobterm-cp <file|dir> <size> <x|-> <sha256|cksum>`` (size estimated for a directory; x:
executable; last, the checksum it will send, so that jobterm computes only that one) and
then the bytes (a file as it is, a directory as a tar stream of `.`), with `tee` feeding a
checksum on the way out; the checksum (``sha256 <hex>`` or ``cksum <crc> <size>``) comes
last, on stderr, which exec keeps apart and sends after the command ended.

Upload (`PUT`, argv: DEST KIND NAME MODE SHA256 CKSUM): reads the bytes from stdin into a
temporary name beside the destination, checks them against the checksum jobterm computed
before sending, and only then renames (a directory: unpacks the tar into a temporary
directory first). Any failure or signal removes the temporary; the destination is never
half written. It prints the checksum it computed on stdout.

A session that is killed (SIGKILL after the hang-up) leaves its temporary behind; the next
program run in that folder removes the temporaries of its own job there (named
`.jobterm-cp.<CI_JOB_ID>.XXXXXX`). That is safe because a job has at most one terminal
session at a time, so no other copy can be using them; other jobs' (a shared /tmp) are left.

Each failure the programs detect has its own exit status (`RemoteStatus`).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

#: The first argument of `sh -c` (what `$0` is in the programs).
NAME: Final = b"jobterm-cp"


class RemoteStatus(IntEnum):
    """Exit statuses of the programs (well above what tar or cat themselves return)."""

    OK = 0
    NOT_FOUND = 70  # the path (or the destination's directory) does not exist
    DENIED = 71  # no permission to read the source or to write the destination directory
    IN_THE_WAY = 72  # a directory comes, and the destination is not one
    NAME_TAKEN = 78  # in the destination directory, the copy's name is taken (see PUT)
    NO_TAR = 73  # a directory needs `tar` in the job
    NOT_REGULAR = 74  # a device, fifo or socket: cp copies files and directories
    WRITE_FAILED = 75  # writing, unpacking or renaming failed (e.g. the disk is full)
    READ_FAILED = 76  # reading the source failed midway
    MISMATCH = 77  # what arrived is not what jobterm sent
    NO_BUILD_DIR = 79  # a relative path, and neither the shell nor the log names the build dir


# Shared by both programs: the build directory ($CI_PROJECT_DIR, else the one the job's log
# names, which jobterm passes as JT_BUILD_DIR: the shell executor gives a terminal no CI
# variables), a path safe to pass as an operand, and a temporary that any end (even a
# signal) removes.
_PRELUDE: Final = b"""\
b=${CI_PROJECT_DIR:-${JT_BUILD_DIR:-}}
if [ -n "$b" ]; then cd "$b" 2>/dev/null; else case $1 in /*) ;; *) exit 79;; esac; fi
op() { case $1 in -*) printf './%s' "$1";; *) printf '%s' "$1";; esac; }
h=$(openssl dgst -sha256 -r </dev/null 2>/dev/null)
if [ "${h%% *}" = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ]; then
  a=sha256; sum() { openssl dgst -sha256 -r; }
elif command -v sha256sum >/dev/null 2>&1; then a=sha256; sum() { sha256sum; }
else a=cksum; sum() { cksum; }; fi
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
case ${CI_JOB_ID:-} in *[!0-9]*|'') tag=.jobterm-cp.0;; *) tag=.jobterm-cp.$CI_JOB_ID;; esac
sweep() { for o in "$1/$tag".??????*; do [ -e "$o" ] && rm -rf "$o"; done; }
"""

GET_SCRIPT: Final = (
    _PRELUDE
    + b"""\
p=$(op "$1"; printf x); p=${p%x}
if [ -d "$p" ]; then
  command -v tar >/dev/null 2>&1 || exit 73
  [ -r "$p" ] && [ -x "$p" ] || exit 71
  k=dir; x=-; z=$(du -sk "$p" 2>/dev/null); z=${z%%[!0-9]*}; z=$((${z:-0} * 1024))
elif [ -e "$p" ]; then
  [ -f "$p" ] || exit 74
  [ -r "$p" ] || exit 71
  k=file; z=$(wc -c <"$p" | tr -d ' '); [ -x "$p" ] && x=x || x=-
else
  exit 70
fi
r=${TMPDIR:-/tmp}; sweep "$r"
t=$(mktemp -d "$r/$tag.XXXXXX" 2>/dev/null) || exit 75
trap 'rm -rf "$t"' EXIT
mkfifo "$t/f" || exit 75
sum <"$t/f" >"$t/s" &
printf 'jobterm-cp %s %s %s %s\\n' $k $z $x $a
if [ $k = dir ]; then
  { (cd "$p" && tar -cf - .) || : >"$t/x"; } 2>/dev/null | tee "$t/f"
else
  tee "$t/f" 2>/dev/null <"$p" || : >"$t/x"
fi
wait
[ -e "$t/x" ] && exit 76
set -- $(cat "$t/s")
[ $a = sha256 ] && printf 'sha256 %s\\n' "$1" >&2 || printf 'cksum %s %s\\n' "$1" "$2" >&2
"""
)

PUT_SCRIPT: Final = (
    _PRELUDE
    + b"""\
d=$(op "$1"; printf x); d=${d%x}; k=$2; m=$4; w6=$5; wc=$6
if [ -d "$d" ]; then f=${d%/}/$3; else f=$d; fi
case $f in */) exit 70;; */*) dir=${f%/*}; dir=${dir:-/};; *) dir=.;; esac
[ -d "$dir" ] || exit 70
[ -w "$dir" ] && [ -x "$dir" ] || exit 71
if [ $k = dir ]; then
  { [ -e "$f" ] || [ -h "$f" ]; } && { [ "$f" = "$d" ] && exit 72 || exit 78; }
  command -v tar >/dev/null 2>&1 || exit 73
elif [ -d "$f" ]; then
  exit 78
fi
sweep "$dir"
t=$(mktemp "$dir/$tag.XXXXXX" 2>/dev/null) || exit 71
trap 'rm -rf "$t" "$t.d"' EXIT
cat >"$t" || exit 75
set -- $(sum <"$t")
if [ $a = sha256 ]; then s=$1; e=$w6; else s="$1 $2"; e=$wc; fi
printf '%s %s\\n' $a "$s"
[ "$s" = "$e" ] || exit 77
if [ $k = dir ]; then
  mkdir "$t.d" && tar -xpf "$t" -C "$t.d" 2>/dev/null && chmod "$m" "$t.d" && mv "$t.d" "$f" \
    || exit 75
else
  chmod "$m" "$t" && mv -f "$t" "$f" || exit 75
fi
"""
)


def get_argv(path: bytes, base: bytes | None = None) -> tuple[bytes, ...]:
    """exec argv of a download of `path` (relative to the job's build directory; `base`:
    that directory as the log names it, for a shell without $CI_PROJECT_DIR)."""
    return in_build_dir((b"sh", b"-c", GET_SCRIPT, NAME, path), base)


def in_build_dir(argv: tuple[bytes, ...], base: bytes | None) -> tuple[bytes, ...]:
    """`sh -c SCRIPT NAME ARGS…` with JT_BUILD_DIR set to `base` (when known): given as the
    first argument, which the script takes off (no `env`: a job may not have it)."""
    if not base:
        return argv
    shell, flag, script, name, *args = argv
    return (shell, flag, b"JT_BUILD_DIR=$1; shift\n" + script, name, base, *args)


@dataclass(frozen=True)
class Sums:
    """The two checksums a job may be able to compute, in the form the programs print."""

    sha256: str
    cksum: str  # "<crc> <size>", as POSIX cksum prints for stdin

    def get(self, algorithm: str) -> str:
        return self.sha256 if algorithm == "sha256" else self.cksum


def put_argv(
    dest: bytes, kind: str, name: bytes, mode: int, sums: Sums, base: bytes | None = None
) -> tuple[bytes, ...]:
    """exec argv of an upload to `dest` (a file, or a directory to put `name` into)."""
    fields = (
        kind.encode(),
        name,
        b"%o" % (mode & 0o777),
        sums.sha256.encode(),
        sums.cksum.encode(),
    )
    return in_build_dir((b"sh", b"-c", PUT_SCRIPT, NAME, dest, *fields), base)


# ---------------------------------------------------------------- checksums


_REVERSED: Final = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


#: The checksums the programs may compute, in their order of preference.
ALGORITHMS: Final = ("sha256", "cksum")


class Checksum:
    """sha256 and/or POSIX `cksum` of a byte stream, fed in pieces.

    An upload computes both (which one the job can check is learnt only there); a download
    only the one the job announced, since each costs as much CPU as moving the bytes.

    POSIX cksum is CRC-32 without reflection, register starting at 0, over the data and
    then the length (least significant byte first), inverted. zlib's CRC-32 is the
    reflected form: fed bit-reversed bytes from a register of 0 (passed as 0xFFFFFFFF,
    which zlib inverts on the way in), its result is the bit-reversed cksum.
    """

    def __init__(self, algorithms: tuple[str, ...] = ALGORITHMS) -> None:
        if not algorithms or set(algorithms) - set(ALGORITHMS):
            raise ValueError(f"checksums are among {ALGORITHMS}, not {algorithms}")
        self._sha = hashlib.sha256() if "sha256" in algorithms else None
        self._crc = 0xFFFFFFFF if "cksum" in algorithms else None
        self.size = 0

    def update(self, data: bytes) -> None:
        if self._sha is not None:
            self._sha.update(data)
        if self._crc is not None:
            self._crc = zlib.crc32(data.translate(_REVERSED), self._crc)
        self.size += len(data)

    def has(self, algorithm: str) -> bool:
        if algorithm == "sha256":
            return self._sha is not None
        return algorithm == "cksum" and self._crc is not None

    def value(self, algorithm: str) -> str:
        """The checksum as the programs print it (after the algorithm's name)."""
        if algorithm == "sha256" and self._sha is not None:
            return self._sha.hexdigest()
        if algorithm == "cksum" and self._crc is not None:
            size = self.size
            length = size.to_bytes(max(1, (size.bit_length() + 7) // 8), "little")
            crc = zlib.crc32(length.translate(_REVERSED), self._crc) if size else self._crc
            return f"{int(f'{crc:032b}'[::-1], 2)} {size}"
        raise ValueError(f"no {algorithm} checksum was computed")

    def sums(self) -> Sums:
        return Sums(self.value("sha256"), self.value("cksum"))


_SUM_LINE: Final = re.compile(rb"(sha256 [0-9a-f]{64}|cksum [0-9]{1,10} [0-9]{1,20})\n?")


def parse_sum(text: bytes) -> tuple[str, str] | None:
    """`(algorithm, value)` from the checksum line a program printed, or None if garbled."""
    match = _SUM_LINE.fullmatch(text.strip(b"\r\n") + b"\n")
    if match is None:
        return None
    algorithm, _, value = match.group(1).decode().partition(" ")
    return algorithm, value


# ---------------------------------------------------------------- the download stream


@dataclass(frozen=True, slots=True)
class Header:
    kind: str  # "file" or "dir"
    size: int  # bytes for a file; an estimate (du) for a directory's tar stream
    executable: bool  # a file the job's user may execute
    algorithm: str  # the checksum the job computes and sends at the end (`ALGORITHMS`)


#: Longest header line accepted (the real one is about 40 bytes).
MAX_HEADER: Final = 128
_HEADER: Final = re.compile(rb"jobterm-cp (file|dir) ([0-9]{1,20}) ([x-]) (sha256|cksum)")


class BadStream(ValueError):
    """The download did not start with a valid header: not our program talking."""


class GetStream:
    """Split what the GET program writes into its `Header` and the payload bytes.

    Theory of operation: the header is one line; until its newline arrives the bytes are
    held (at most `MAX_HEADER`); after it every byte is payload, passed through unchanged
    and counted. `feed` returns a list of `Header` (once) and `bytes` (payload pieces).
    """

    def __init__(self) -> None:
        self._held = b""
        self.header: Header | None = None
        self.received = 0

    def feed(self, data: bytes) -> list[Header | bytes]:
        if self.header is not None:
            self.received += len(data)
            return [data] if data else []
        held = self._held + data
        end = held.find(b"\n")
        if end < 0:
            if len(held) > MAX_HEADER:
                raise BadStream("no header line")
            self._held = held
            return []
        match = _HEADER.fullmatch(held[:end])
        if match is None:
            raise BadStream(f"bad header {held[:end][:40]!r}")
        kind, size, mode, algorithm = match.groups()
        self.header = Header(kind.decode(), int(size), mode == b"x", algorithm.decode())
        self._held = b""
        rest = held[end + 1 :]
        self.received = len(rest)
        return [self.header, rest] if rest else [self.header]


_OPERAND: Final = re.compile(r"(https?://[^\s]+?/-/jobs/[0-9]+|[^:\s]+#[0-9]+|[0-9]+):(.*)", re.S)


def split_operand(operand: str) -> tuple[str, str] | None:
    """`(job, path)` of a `JOB:PATH` operand, or None for a local path.

    JOB is a job id, `project#id` or a job URL; anything else (say `./12:notes`) is local.
    """
    match = _OPERAND.fullmatch(operand)
    return (match.group(1), match.group(2)) if match else None
