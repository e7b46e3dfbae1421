"""The sans-I/O exec protocol: script building, stdin framing and the output parser."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobterm.core.execproto import (
    FAILURES,
    Event,
    ExecSpec,
    Exited,
    Failed,
    Output,
    Protocol,
    StdinEncoder,
    StdinMode,
    Step,
    Stream,
    marker,
    partial_suffix,
    quote,
    script_line,
    shell_argv,
)

READY_NONCE = b"a" * 24
NONCE = b"0123456789abcdef01234567"
SHELLS = [
    name
    for name, argv in (("bash", ["bash"]), ("dash", ["dash"]), ("busybox", ["busybox", "sh"]))
    if shutil.which(argv[0])
]


def proto(spec: ExecSpec | None = None) -> Protocol:
    return Protocol(spec or ExecSpec((b"true",)), ready_nonce=READY_NONCE, nonce=NONCE)


def ready() -> bytes:
    return marker(READY_NONCE, b"R")


def start() -> bytes:
    return marker(NONCE, b"S")


def end(status: int | bytes) -> bytes:
    digits = status if isinstance(status, bytes) else str(status).encode()
    return marker(NONCE, b"E") + digits + b"."


def session(output: bytes, status: int = 0, noise: bytes = b"") -> bytes:
    """What a PTY shows: banner and echo, READY, START, the command's bytes, END."""
    p = proto()
    echo = p.bootstrap.replace(b"\n", b"\r\n")
    return noise + b"Welcome!\r\n$ " + echo + ready() + start() + output + end(status) + b"\r\n"


def feed_all(p: Protocol, data: bytes, sizes: list[int] | None = None) -> list[Event]:
    events: list[Event] = []
    if sizes is None:
        return p.feed(data)
    pos = 0
    for size in sizes:
        events += p.feed(data[pos : pos + size])
        pos += size
    while pos < len(data):
        events += p.feed(data[pos : pos + 7])
        pos += 7
    return events


def kind(event: Event) -> str:
    """A name per kind of event: Ready, Started, Output, ErrorOutput, Exited, Failed."""
    if isinstance(event, Step):
        return event.name.title()
    if isinstance(event, Output) and event.stream is Stream.STDERR:
        return "ErrorOutput"
    return type(event).__name__


def summarize(events: list[Event]) -> tuple[list[str], bytes, bytes, int | None]:
    """(kinds in order with Output runs collapsed, stdout, stderr, exit status)."""
    kinds: list[str] = []
    out = err = b""
    status = None
    for ev in events:
        name = kind(ev)
        if not kinds or kinds[-1] != name:
            kinds.append(name)
        if isinstance(ev, Output) and ev.stream is Stream.STDOUT:
            out += ev.data
        elif isinstance(ev, Output):
            err += ev.data
        elif isinstance(ev, Exited):
            status = ev.status
    return kinds, out, err, status


# ------------------------------------------------------------------ the lines we send


def test_bootstrap_is_one_line_without_the_marker() -> None:
    line = proto().bootstrap
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert line.startswith(b" exec sh -c '")
    for kind in (b"R", b"F"):
        assert marker(READY_NONCE, kind) not in line
    assert READY_NONCE not in line  # even the nonce is only there as octal escapes
    assert NONCE not in line


@pytest.mark.parametrize("mode", list(StdinMode))
def test_script_is_one_line_that_never_spells_a_marker(mode: StdinMode) -> None:
    spec = ExecSpec((b"a\nb", b"\x03", bytes(range(1, 256))), stdin=mode, term="xterm")
    line = script_line(spec, NONCE)
    assert line.count(b"\n") == 1
    assert line.endswith(b"\n")
    assert b"\x03" not in line
    assert NONCE not in line
    for kind in b"RSEFBTQZ":
        assert marker(NONCE, bytes([kind])) not in line


def test_script_modes() -> None:
    null = script_line(ExecSpec((b"x",)), NONCE)
    assert b"</dev/null" in null
    assert b"base64" not in null
    pipe = script_line(ExecSpec((b"x",), stdin=StdinMode.PIPE), NONCE)
    assert b"base64 -d" in pipe
    assert b"</dev/null" not in pipe
    tty = script_line(ExecSpec((b"x",), stdin=StdinMode.TTY, rows=40, cols=120), NONCE)
    assert b"rows 40 cols 120" in tty
    assert b"|cat" not in tty
    apart = script_line(ExecSpec((b"x",), stderr_apart=True), NONCE)
    assert b'2>"$_jt_e"' in apart
    assert b"mktemp" in apart


def test_spec_rejects_what_cannot_run() -> None:
    with pytest.raises(ValueError, match="empty"):
        ExecSpec(())
    with pytest.raises(ValueError, match="NUL"):
        ExecSpec((b"a\0b",))
    with pytest.raises(ValueError, match="terminal"):
        ExecSpec((b"x",), stdin=StdinMode.TTY, stderr_apart=True)
    with pytest.raises(ValueError, match="differ"):
        Protocol(ExecSpec((b"x",)), ready_nonce=NONCE, nonce=NONCE)


def test_shell_argv_uses_posix_sh() -> None:
    assert shell_argv("echo $HOME") == (b"sh", b"-c", b"echo $HOME")


def test_random_nonces_differ_per_run() -> None:
    a, b = Protocol(ExecSpec((b"x",))), Protocol(ExecSpec((b"x",)))
    assert len({a.nonce, a.ready_nonce, b.nonce, b.ready_nonce}) == 4
    assert len(a.nonce) == 24


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        (b"plain-word_1.2", b"plain-word_1.2"),
        (b"", b"''"),
        (b"a b", b"'a b'"),
        (b"it's", b"'it'\\''s'"),
        (b"$HOME", b"'$HOME'"),
        (b"\n", b'"$_jt_n"'),
        (b"a\nb", b"'a'\"$_jt_n\"'b'"),
        (b"\x03", b'"$_jt_c"'),
    ],
)
def test_quote(arg: bytes, expected: bytes) -> None:
    assert quote(arg) == expected


def _eval_in(shell: str, args: list[bytes]) -> list[bytes]:
    """Run the quoted words through a real shell and read back "$@"."""
    argv = ["busybox", "sh"] if shell == "busybox" else [shell]
    script = b"_jt_n=$(printf '\\nx');_jt_n=${_jt_n%x};_jt_c=$(printf '\\003');"
    script += b"set -- " + b" ".join(quote(a) for a in args) + b";printf '%s\\0' \"$@\""
    out = subprocess.run([*argv, "-c", script], capture_output=True, timeout=10, check=True)
    return out.stdout.split(b"\0")[:-1]


@pytest.mark.parametrize("shell", SHELLS)
def test_quote_awkward_words_in_real_shells(shell: str) -> None:
    words = [
        bytes(range(1, 256)),
        b"",
        b" ",
        b"'\"",
        b"$(id) `id` ${x:-y} \\",
        b"a\nb\n\n",
        b"caf\xc3\xa9 \xe2\x98\x83 \xff\xfe",
        bytes(range(0x81, 0x8B)),  # dash's internal control bytes
        b"*?[a]~#!",
        b"-n",
    ]
    assert _eval_in(shell, words) == words


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(st.binary(max_size=40).filter(lambda b: b"\0" not in b), min_size=1, max_size=5)
)
def test_quote_round_trips_in_real_shells(shell: str, words: list[bytes]) -> None:
    assert _eval_in(shell, words) == words


# ------------------------------------------------------------------ stdin framing


def decode_stdin(wire: bytes) -> bytes:
    lines = wire.split(b"\n")
    end = lines.index(b"=")
    return base64.b64decode(b"".join(lines[:end]))


@given(data=st.binary(max_size=20000), cuts=st.lists(st.integers(0, 20000), max_size=6))
def test_stdin_encoder_round_trips_any_chunking(data: bytes, cuts: list[int]) -> None:
    enc = StdinEncoder(line=3 * 50)
    wire = b""
    pos = 0
    for cut in sorted(cuts):
        wire += enc.encode(data[pos:cut])
        pos = max(pos, cut)
    wire += enc.encode(data[pos:]) + enc.finish()
    assert decode_stdin(wire) == data
    assert wire.endswith(b"=\n")
    assert wire.count(b"\n=\n") + wire.startswith(b"=\n") == 1
    assert all(len(line) <= 200 for line in wire.split(b"\n"))
    assert b"\x03" not in wire


def test_stdin_encoder_is_finished_once() -> None:
    enc = StdinEncoder()
    assert enc.finish() == b"=\n"
    assert enc.finish() == b""
    with pytest.raises(ValueError, match="finished"):
        enc.encode(b"x")
    with pytest.raises(ValueError, match="multiple of 3"):
        StdinEncoder(line=4)


def test_stdin_framing_decodes_with_sed_and_base64() -> None:
    data = bytes(range(256)) * 100 + b"\x03\x04\x11\x13"
    enc = StdinEncoder()
    wire = enc.encode(data[:1001]) + enc.encode(data[1001:]) + enc.finish() + b"not read\n"
    out = subprocess.run(
        ["sh", "-c", "sed -n '/^=$/q;p' | base64 -d"], input=wire, capture_output=True, timeout=10
    )
    assert out.stdout == data


# ------------------------------------------------------------------ the parser


def test_happy_path_whole() -> None:
    events = proto().feed(session(b"hello\n", 7))
    assert events == [Step.READY, Step.STARTED, Output(b"hello\n"), Exited(7)]


def test_happy_path_byte_at_a_time() -> None:
    data = session(b"hello\nno newline at the end", 0)
    p = proto()
    events = [ev for i in range(len(data)) for ev in p.feed(data[i : i + 1])]
    kinds, out, _, status = summarize(events)
    assert kinds == ["Ready", "Started", "Output", "Exited"]
    assert out == b"hello\nno newline at the end"
    assert status == 0
    assert p.done


def test_noise_before_start_is_kept_for_debugging_only() -> None:
    p = proto()
    events = p.feed(session(b"x", noise=b"\x1b]0;title\x07BANNER "))
    assert summarize(events)[1] == b"x"
    assert b"BANNER" in p.noise
    assert b"Welcome" in p.noise


def test_nothing_before_ready_counts() -> None:
    p = proto()
    fake = start() + b"fake" + end(3)  # a command cannot know the nonce; even so, ignored
    assert p.feed(fake) == []
    assert p.state == "await READY"


def test_after_exit_bytes_are_ignored() -> None:
    p = proto()
    events = p.feed(session(b"a", 1) + b"more" + end(5))
    assert summarize(events)[3] == 1
    assert p.feed(b"anything") == []


@pytest.mark.parametrize(
    "imitation",
    [
        b"#jt:" + NONCE + b":",  # our prefix, cut short at the end of output
        b"#jt:" + NONCE + b":E",
        b"#jt:" + NONCE + b":X.",
        b"#jt:" + NONCE + b":E#",
        b"#jt:" + NONCE[:-1] + b":E.0.",
        b"#jt:" + READY_NONCE + b":E.0.",
        marker(NONCE, b"S") + marker(NONCE, b"Q") + marker(READY_NONCE, b"R"),
        marker(NONCE, b"F") + marker(NONCE, b"B"),
        b"##jt:#jt:#jt:" + NONCE + b"#",
        b"\\043\\152\\164",
    ],
)
def test_output_imitating_markers_is_output(imitation: bytes) -> None:
    output = b"before " + imitation + b" after" + imitation
    for sizes in (None, [1] * 400):
        kinds, out, _, status = summarize(feed_all(proto(), session(output, 4), sizes))
        assert out == output
        assert status == 4
        assert kinds == ["Ready", "Started", "Output", "Exited"]


@pytest.mark.parametrize(
    ("text", "status"), [(b"0", 0), (b"255", 255), (b"143", 143), (b"271", 143)]
)
def test_exit_status(text: bytes, status: int) -> None:
    assert proto().feed(ready() + start() + end(text))[-1] == Exited(status)


@pytest.mark.parametrize("text", [b"", b"12x", b"1234", b"-1"])
def test_garbled_status_fails(text: bytes) -> None:
    events = proto().feed(ready() + start() + end(text) + b"tail")
    assert isinstance(events[-1], Failed)


def test_status_split_across_chunks() -> None:
    p = proto()
    assert p.feed(ready() + start() + marker(NONCE, b"E") + b"1") == [Step.READY, Step.STARTED]
    assert p.feed(b"3") == []
    assert p.feed(b"0.") == [Exited(130)]


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_setup_failures(kind: bytes) -> None:
    nonce = READY_NONCE if kind == b"F" else NONCE
    prefix = b"" if kind == b"F" else ready()
    events = proto().feed(prefix + marker(nonce, kind))
    assert events[-1] == Failed(FAILURES[kind])


def test_a_failure_marker_after_start_is_output() -> None:
    data = ready() + start() + marker(NONCE, b"B") + end(0)
    assert summarize(proto().feed(data))[1] == marker(NONCE, b"B")


def test_stderr_apart() -> None:
    p = proto(ExecSpec((b"x",), stderr_apart=True))
    data = ready() + start() + b"out" + end(2) + marker(NONCE, b"Q") + b"err\n"
    data += marker(NONCE, b"Z") + b"junk"
    for sizes in (None, [1] * len(data)):
        p = proto(ExecSpec((b"x",), stderr_apart=True))
        kinds, out, err, status = summarize(feed_all(p, data, sizes))
        assert (out, err, status) == (b"out", b"err\n", 2)
        assert kinds == ["Ready", "Started", "Output", "ErrorOutput", "Exited"]


def test_output_streams_holding_back_at_most_a_marker() -> None:
    p = proto()
    p.feed(ready() + start())
    limit = len(marker(NONCE, b"E")) - 1
    sent = received = 0
    for chunk in (b"a" * 100, b"#jt:", NONCE[:10], b"zz", b"#", b"#jt:" + NONCE + b":"):
        sent += len(chunk)
        received += sum(len(ev.data) for ev in p.feed(chunk) if isinstance(ev, Output))
        assert sent - received <= limit


def test_partial_suffix() -> None:
    assert partial_suffix(b"xx#j", b"#jt:") == 2
    assert partial_suffix(b"xx#jt:", b"#jt:") == 0  # a whole match is not a partial one
    assert partial_suffix(b"#", b"#jt:") == 1
    assert partial_suffix(b"", b"#jt:") == 0
    assert partial_suffix(b"##", b"#jt:") == 1


# Output that likes to look like the framing: pieces of the real markers, other nonces.
_pieces = st.sampled_from(
    [
        b"#",
        b"#jt:",
        NONCE,
        READY_NONCE,
        b":E.",
        b":S.",
        b":R.",
        b"0.",
        b"\r\n",
        b"\x00\x03\xff",
        marker(NONCE, b"S"),
        marker(READY_NONCE, b"R"),
        marker(NONCE, b"E")[:-1],
    ]
)
_output = st.lists(st.one_of(_pieces, st.binary(max_size=64)), max_size=30).map(b"".join)


@settings(max_examples=300)
@given(
    output=_output,
    noise=st.binary(max_size=100).filter(lambda b: b"#jt:" not in b),
    status=st.integers(0, 255),
    sizes=st.lists(st.integers(1, 50), max_size=40),
)
def test_any_output_any_chunking(
    output: bytes, noise: bytes, status: int, sizes: list[int]
) -> None:
    # The command's output may not contain the real END marker: it cannot know the nonce.
    if marker(NONCE, b"E") in output:
        return
    kinds, out, _, got = summarize(feed_all(proto(), session(output, status, noise), sizes))
    assert out == output
    assert got == status
    assert kinds[:2] == ["Ready", "Started"]
    assert kinds[-1] == "Exited"
