"""The exec run's state machine (core/execrun.py): happenings in, actions and one End out."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobterm.core.execproto import (
    FAILURES,
    ExecSpec,
    Output,
    Protocol,
    StdinMode,
    Stream,
    marker,
)
from jobterm.core.execrun import (
    EOT,
    INTR,
    LAST_CTRL_C,
    Action,
    Arm,
    End,
    ExecMachine,
    ExecOptions,
    Killed,
    ReadStdin,
    SessionDropped,
    Sig,
    Timer,
)
from jobterm.core.frames import Send
from jobterm.errors import ConnectionLostError, ExitCode, JobtermError, TimeoutExpired

READY_NONCE = b"a" * 24
NONCE = b"0123456789abcdef01234567"
OPTIONS = ExecOptions(timeout=30.0, setup_timeout=60.0, grace=5.0)


def machine(
    stdin: StdinMode = StdinMode.NULL,
    options: ExecOptions = OPTIONS,
    stdin_is_tty: bool = False,
    stderr_apart: bool = False,
) -> ExecMachine:
    spec = ExecSpec((b"cmd",), stdin=stdin, stderr_apart=stderr_apart)
    return ExecMachine(Protocol(spec, READY_NONCE, NONCE), options, stdin_is_tty)


READY = marker(READY_NONCE, b"R")
START = marker(NONCE, b"S")


def end(status: int) -> bytes:
    return marker(NONCE, b"E") + b"%d." % status


def session(output: bytes, status: int) -> bytes:
    return b"banner\r\n$ echo\r\n" + READY + START + output + end(status) + b"\r\n$ "


def exit_code(action: End) -> int:
    """What jobterm exits with for this End."""
    if action.error is None:
        return action.status
    assert isinstance(action.error, JobtermError)
    return int(action.error.exit_code)


def merged(actions: list[Action]) -> list[Action]:
    """Adjacent Output actions of one stream joined (chunking may split them anywhere)."""
    out: list[Action] = []
    for action in actions:
        last = out[-1] if out else None
        same = isinstance(last, Output) and last.stream is getattr(action, "stream", None)
        if isinstance(action, Output) and isinstance(last, Output) and same:
            out[-1] = Output(last.data + action.data, action.stream)
            continue
        out.append(action)
    return out


def feed_bytewise(m: ExecMachine, data: bytes) -> list[Action]:
    return [a for i in range(len(data)) for a in m.feed(data[i : i + 1])]


def running(
    stdin: StdinMode = StdinMode.NULL, stdin_is_tty: bool = False, stderr_apart: bool = False
) -> ExecMachine:
    m = machine(stdin, stdin_is_tty=stdin_is_tty, stderr_apart=stderr_apart)
    m.start()
    m.feed(READY + START)
    return m


# ------------------------------------------------------------------ a run that goes well


def test_start_arms_the_timers_and_sends_the_bootstrap() -> None:
    m = machine()
    assert m.start(spent=4.0) == [
        Arm(Timer.SETUP, 60.0),
        Arm(Timer.TIMEOUT, 26.0),
        Send(m.proto.bootstrap),
    ]
    assert machine(options=ExecOptions()).start()[1:] == [Send(m.proto.bootstrap)]
    assert machine().start(spent=99.0)[1] == Arm(Timer.TIMEOUT, 0.0)


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte-by-byte"])
def test_happy_path(bytewise: bool) -> None:
    m = machine()
    m.start()
    data = session(b"hello\r\n\x00\x03", 7)
    actions = feed_bytewise(m, data) if bytewise else m.feed(data)
    assert merged(actions) == [
        Send(m.proto.script),
        Arm(Timer.SETUP, None),
        Output(b"hello\r\n\x00\x03"),
        End(7),
    ]
    assert m.ended
    assert m.feed(b"more") == []


def test_stderr_apart_comes_after_the_output() -> None:
    m = running(stderr_apart=True)
    data = b"out" + end(3) + marker(NONCE, b"Q") + b"err" + marker(NONCE, b"Z")
    assert merged(feed_bytewise(m, data)) == [
        Output(b"out"),
        Output(b"err", Stream.STDERR),
        End(3),
    ]


def test_piped_stdin_is_read_after_the_start_and_framed() -> None:
    m = machine(StdinMode.PIPE)
    m.start()
    assert ReadStdin() not in m.feed(READY)
    assert m.feed(START) == [Arm(Timer.SETUP, None), ReadStdin()]
    wire = b"".join(
        a.data
        for a in m.stdin(b"\x03\x04binary") + m.stdin(b"") + m.stdin_end()
        if isinstance(a, Send)
    )
    assert wire.endswith(b"=\n")
    assert base64.b64decode(b"".join(wire.split(b"\n")[:-2])) == b"\x03\x04binary"


@pytest.mark.parametrize(("is_tty", "last"), [(False, [Send(EOT)]), (True, [])])
def test_tty_stdin_goes_as_typed_and_a_pipe_ends_with_ctrl_d(
    is_tty: bool, last: list[Action]
) -> None:
    m = running(StdinMode.TTY, stdin_is_tty=is_tty)
    assert m.stdin(b"q\x03") == [Send(b"q\x03")]
    assert m.stdin_end() == last


def test_no_stdin_reader_when_stdin_is_dev_null() -> None:
    m = machine(StdinMode.NULL)
    m.start()
    assert m.feed(READY + START) == [Send(m.proto.script), Arm(Timer.SETUP, None)]


# ------------------------------------------------------------------ set-up failures


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_a_failed_set_up_ends_with_255_and_its_reason(kind: bytes) -> None:
    m = machine()
    m.start()
    data = marker(READY_NONCE, b"F") if kind == b"F" else READY + marker(NONCE, kind)
    last = m.feed(data)[-1]
    assert isinstance(last, End)
    assert exit_code(last) == ExitCode.EXEC_FAILED
    assert str(last.error) == FAILURES[kind]


def test_setup_timer_ends_before_the_start_and_is_ignored_after() -> None:
    m = machine()
    m.start()
    [ended] = m.fire(Timer.SETUP)
    assert isinstance(ended, End)
    assert exit_code(ended) == ExitCode.EXEC_FAILED
    assert "did not start the command within 60 s (await READY)" in str(ended.error)
    assert running().fire(Timer.SETUP) == []


# ------------------------------------------------------------------ timeout and signals


def test_timeout_before_the_start_ends_at_once_with_12() -> None:
    m = machine()
    m.start()
    [ended] = m.fire(Timer.TIMEOUT)
    assert isinstance(ended, End)
    assert isinstance(ended.error, TimeoutExpired)
    assert exit_code(ended) == ExitCode.TIMEOUT


@pytest.mark.parametrize(
    ("then", "suffix"),
    [
        (lambda m: m.feed(end(130)), ""),
        (lambda m: m.fire(Timer.GRACE), "; it did not stop within 5 s"),
        (lambda m: m.lost(), ""),
        (lambda m: m.lost(ConnectionLostError("link died")), ""),
    ],
    ids=["command-ends", "grace-passes", "session-ends", "link-dies"],
)
def test_timeout_after_the_start_interrupts_and_ends_with_12(then, suffix) -> None:  # type: ignore[no-untyped-def]
    m = running()
    assert m.fire(Timer.TIMEOUT) == [Send(INTR), Arm(Timer.GRACE, 5.0)]
    assert m.fire(Timer.TIMEOUT) == []  # one Ctrl-C only
    [ended] = then(m)
    assert isinstance(ended, End)
    assert exit_code(ended) == ExitCode.TIMEOUT
    assert str(ended.error) == (
        "the command did not finish within 30 s and was sent Ctrl-C" + suffix
    )


def test_sigint_interrupts_and_a_second_one_ends_at_once() -> None:
    m = running()
    assert m.signal(Sig.INT) == [Send(INTR), Arm(Timer.GRACE, 5.0)]
    [ended] = m.signal(Sig.INT)
    assert isinstance(ended, End)
    assert exit_code(ended) == ExitCode.INTERRUPTED
    assert m.feed(end(0)) == []


def test_sigint_before_the_start_ends_at_once() -> None:
    m = machine()
    m.start()
    [ended] = m.signal(Sig.INT)
    assert isinstance(ended, End)
    assert exit_code(ended) == ExitCode.INTERRUPTED


@pytest.mark.parametrize("sig", [Sig.TERM, Sig.HUP])
def test_term_and_hup_send_a_last_ctrl_c_and_end_with_255(sig: Sig) -> None:
    m = running()
    last, ended = m.signal(sig)
    assert last == Send(INTR, within=LAST_CTRL_C)
    assert isinstance(ended, End)
    assert exit_code(ended) == ExitCode.EXEC_FAILED
    assert str(ended.error) == f"killed by {sig.value}"
    assert isinstance(ended.error, Killed)  # cp exits 128+N by its signal
    assert ended.error.sig is sig
    early = machine()
    early.start()
    [alone] = early.signal(sig)  # nothing runs yet: no Ctrl-C
    assert isinstance(alone, End)


# ------------------------------------------------------------------ losing the session


def test_a_dropped_session_is_reported_as_such() -> None:
    [ended] = running().lost()
    assert isinstance(ended, End)
    assert isinstance(ended.error, SessionDropped)
    lost = ConnectionLostError("no pong")
    assert running().lost(lost) == [End(error=lost)]


def test_a_local_failure_ends_with_itself() -> None:
    broken = BrokenPipeError(32, "Broken pipe")
    assert running().crash(broken) == [End(error=broken)]


# ------------------------------------------------------------------ any order of happenings


def _happening(m: ExecMachine, what: tuple[str, object]) -> list[Action]:
    kind, arg = what
    if kind == "feed":
        assert isinstance(arg, bytes)
        return m.feed(arg)
    if kind == "stdin":
        assert isinstance(arg, bytes)
        return m.stdin(arg) if arg else m.stdin_end()
    if kind == "fire":
        assert isinstance(arg, Timer)
        return m.fire(arg)
    if kind == "signal":
        assert isinstance(arg, Sig)
        return m.signal(arg)
    return m.lost() if kind == "lost" else m.crash(OSError("stdout"))


_CHUNKS = st.sampled_from([READY, START, b"out", b"#jt:", end(0), end(5), b"\r\n", READY[:9]])
_HAPPENINGS = st.lists(
    st.one_of(
        st.tuples(st.just("feed"), _CHUNKS),
        st.tuples(st.just("stdin"), st.binary(max_size=8)),
        st.tuples(st.just("fire"), st.sampled_from(Timer)),
        st.tuples(st.just("signal"), st.sampled_from(Sig)),
        st.tuples(st.sampled_from(["lost", "crash"]), st.none()),
    ),
    max_size=14,
)


@settings(max_examples=400)
@given(_HAPPENINGS, st.sampled_from(StdinMode))
def test_any_happenings_end_exactly_once_then_nothing(happenings, mode) -> None:  # type: ignore[no-untyped-def]
    m = machine(mode)
    actions = m.start()
    for what in happenings:
        actions += _happening(m, what)
    ends = [a for a in actions if isinstance(a, End)]
    assert len(ends) <= 1
    assert m.ended == bool(ends)
    if ends:
        assert actions[-1] is ends[0]  # nothing after the End
        assert m.result == ends[0]
        for what in [("feed", end(0)), ("signal", Sig.INT), ("fire", Timer.GRACE), ("lost", None)]:
            assert _happening(m, what) == []  # type: ignore[arg-type]
    interrupts = [a for a in actions if a == Send(INTR)]
    assert len(interrupts) <= 1
    setup = (m.proto.bootstrap, m.proto.script, INTR)
    first_read = actions.index(ReadStdin()) if ReadStdin() in actions else len(actions)
    early = [a for a in actions[:first_read] if isinstance(a, Send) and a.data not in setup]
    assert early == []  # no stdin byte goes out before the command reads it


@settings(max_examples=200)
@given(st.binary(max_size=200), st.integers(0, 255), st.lists(st.integers(1, 40), max_size=20))
def test_any_output_any_chunking_ends_with_its_status(
    output: bytes, status: int, cuts: list[int]
) -> None:
    if marker(NONCE, b"E") in output:
        return  # the command cannot know the nonce
    data = session(output, status)
    whole = machine()
    whole.start()
    expected = merged(whole.feed(data))
    m = machine()
    m.start()
    got: list[Action] = []
    pos = 0
    for size in [*cuts, len(data)]:
        got += m.feed(data[pos : pos + size])
        pos += size
    assert merged(got) == expected
    assert expected[-1] == End(status)
