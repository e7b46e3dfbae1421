"""The prompt tracker (core/prompt.py): markers stripped, the empty prompt recognised, the
hidden resize line injected only there, keys held during it and sent once, in order.
Fed whole, byte by byte, and by hypothesis."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobterm.core.frames import Send
from jobterm.core.prompt import (
    MAX_HELD,
    Line,
    PromptTracker,
    Show,
    prompt_marker,
    resize_line,
    sized_marker,
)

NONCE = "0123abcd"
MARK = prompt_marker(NONCE)
SIZED = sized_marker(NONCE)
LINE = re.compile(rb" __jobterm_size \d+ \d+\r")


def shown(events) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Show))


def sent(events) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Send))


def feed_bytewise(tracker: PromptTracker, data: bytes) -> list:
    events = []
    for i in range(len(data)):
        events += tracker.feed(data[i : i + 1])
    return events


def test_markers_are_stripped_whole_and_byte_by_byte() -> None:
    out = b"hello\r\n" + MARK + b"$ " + MARK + b"$ x"
    assert shown(PromptTracker(NONCE).feed(out)) == b"hello\r\n$ $ x"
    assert shown(feed_bytewise(PromptTracker(NONCE), out)) == b"hello\r\n$ $ x"


def test_a_marker_with_another_nonce_is_ordinary_output() -> None:
    fake = b"\x1b]jobterm-prompt;ffffffff\x07$ "
    tracker = PromptTracker(NONCE)
    assert shown(tracker.feed(fake)) == fake
    assert not tracker.seen


def test_a_partial_marker_is_held_until_the_next_chunk_or_flush() -> None:
    tracker = PromptTracker(NONCE)
    assert shown(tracker.feed(b"abc" + MARK[:6])) == b"abc"
    assert tracker.holding
    assert shown(tracker.feed(b"Z")) == MARK[:6] + b"Z"  # it was not a marker after all
    assert shown(tracker.feed(b"\x1b")) == b""
    assert shown(tracker.flush()) == b"\x1b"
    assert not tracker.holding


@pytest.mark.parametrize(
    ("start", "keys", "after"),
    [
        (Line.AT_PROMPT, b"ls", Line.TYPING),
        (Line.AT_PROMPT, b"ls\r", Line.RUNNING),
        (Line.AT_PROMPT, b"\x1b[A\r", Line.RUNNING),
        (Line.AT_PROMPT, b"a\rb\r", Line.DIRTY),
        (Line.AT_PROMPT, b"a\rb", Line.DIRTY),
        (Line.TYPING, b"more\r", Line.RUNNING),
        (Line.RUNNING, b"typed ahead", Line.DIRTY),
        (Line.RUNNING, b"\r", Line.DIRTY),
        (Line.DIRTY, b"x\x03", Line.RUNNING),  # Ctrl-C drops what was typed
        (Line.TYPING, b"abc\x03", Line.RUNNING),
        (Line.RUNNING, b"\x03ls", Line.DIRTY),
    ],
)
def test_what_typing_says_about_the_line(start: Line, keys: bytes, after: Line) -> None:
    tracker = PromptTracker(NONCE)
    tracker.line = start
    assert sent(tracker.typed(keys)) == keys
    assert tracker.line is after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (Line.AT_PROMPT, Line.AT_PROMPT),
        (Line.RUNNING, Line.AT_PROMPT),
        (Line.TYPING, Line.TYPING),  # type-ahead may sit on the new prompt's line
        (Line.DIRTY, Line.TYPING),
    ],
)
def test_what_a_marker_says_about_the_line(before: Line, after: Line) -> None:
    tracker = PromptTracker(NONCE)
    tracker.line = before
    tracker.feed(MARK)
    assert tracker.line is after


def test_a_pending_size_is_injected_at_the_next_empty_prompt_hidden() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK + b"$ ")
    tracker.typed(b"sleep 3\r")
    tracker.resize(30, 100)
    assert tracker.idle() == []  # a command runs: nothing is typed into it
    events = tracker.feed(b"\r\n" + MARK + b"$ ")
    assert sent(events) == resize_line(30, 100)
    assert shown(events) == b"\r\n"  # the old prompt waits: it is about to be replaced
    assert tracker.injecting
    assert tracker.typed(b"ec") == []  # held back
    assert tracker.typed(b"ho\r") == []
    assert shown(tracker.feed(b" __jobterm_size 30 100\r\n" + SIZED)) == b""
    events = tracker.feed(MARK + b"$ ")
    assert shown(events) == b"$ "
    assert sent(events) == b"echo\r"  # after the line, once, in order
    assert tracker.applied == (30, 100)
    assert tracker.pending is None
    assert tracker.line is Line.RUNNING


def test_an_idle_prompt_gets_the_size_and_is_erased_before_the_fresh_one() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(b"out\r\n" + MARK + b"line one\r\n$ ")
    tracker.resize(30, 100)
    events = tracker.idle()
    assert sent(events) == resize_line(30, 100)
    events = tracker.feed(b"echo\r\n" + SIZED + MARK + b"line one\r\n$ ")
    assert shown(events) == b"\r\x1b[1A\x1b[Jline one\r\n$ "


@pytest.mark.parametrize("late", [b"BACKGROUND\r\n", b"one\r\ntwo\r\n", b"\x1b[1mx\x1b[0m\n"])
def test_output_that_came_after_an_idle_prompt_is_never_erased(late: bytes) -> None:
    """A background job printed at the prompt: the old prompt stays with it on screen, and
    the fresh prompt starts on the line below, where the cursor already is."""
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK + b"line one\r\n$ ")
    assert shown(tracker.feed(late)) == late
    tracker.resize(30, 100)
    assert sent(tracker.idle()) == resize_line(30, 100)
    events = tracker.feed(b"echo\r\n" + SIZED + MARK + b"line one\r\n$ ")
    assert shown(events) == b"line one\r\n$ "


def test_a_non_empty_prompt_is_never_injected_into() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK + b"$ ")
    tracker.typed(b"vim file")  # on the line, not submitted
    tracker.resize(30, 100)
    assert tracker.idle() == []
    tracker.typed(b"\r")  # vim runs now
    assert sent(tracker.feed(b"\x1b[?1049h")) == b""
    assert tracker.idle() == []


def test_resizing_back_cancels_and_resizing_during_an_injection_chains() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK)
    tracker.resize(30, 100)
    tracker.resize(24, 80)
    assert tracker.pending is None
    tracker.resize(30, 100)
    tracker.idle()
    tracker.resize(40, 120)
    events = tracker.feed(SIZED + MARK)
    assert sent(events) == resize_line(40, 120)
    tracker.feed(SIZED + MARK)
    assert tracker.applied == (40, 120)


def test_timeout_releases_everything_and_stops_injecting() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK)
    tracker.resize(30, 100)
    tracker.idle()
    tracker.feed(b"held")
    tracker.typed(b"keys")
    events = tracker.timeout()
    assert shown(events) == b"held"
    assert sent(events) == b"keys"
    assert tracker.broken
    tracker.feed(MARK)
    tracker.resize(40, 120)
    assert tracker.idle() == []


def test_held_output_is_bounded() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK)
    tracker.resize(30, 100)
    tracker.idle()
    big = b"x" * (MAX_HELD + 1)
    assert shown(tracker.feed(big)) == big
    assert not tracker.injecting


def test_force_types_a_visible_stty_where_no_prompt_is_known() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    assert sent(tracker.force(30, 100)) == b" stty rows 30 cols 100\r"
    at_prompt = PromptTracker(NONCE, 24, 80)
    at_prompt.feed(MARK)
    assert LINE.fullmatch(sent(at_prompt.force(31, 101)))  # hidden where a prompt waits


# -- hypothesis: arbitrary chunking and interleaving ---------------------------------------

_output = st.lists(
    st.one_of(
        st.binary(max_size=20),
        st.just(MARK),
        st.just(MARK[:7]),
        st.just(SIZED),
        st.just(SIZED[:9]),
        st.just(b"\x1b]jobterm-prompt;fake\x07"),
    ),
    max_size=12,
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(_output, st.lists(st.integers(min_value=0), max_size=10))
def test_without_a_resize_output_is_exactly_the_input_minus_markers(parts, cuts) -> None:
    data = b"".join(parts)
    tracker = PromptTracker(NONCE)
    events = []
    for chunk in _chunks(data, cuts):
        events += tracker.feed(chunk)
    events += tracker.flush()
    assert shown(events) == data.replace(MARK, b"").replace(SIZED, b"")
    assert sent(events) == b""


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("out"), _output.map(b"".join)),
        st.tuples(st.just("key"), st.binary(max_size=6) | st.sampled_from([b"\r", b"ls\r"])),
        st.tuples(st.just("size"), st.tuples(st.integers(1, 99), st.integers(1, 199))),
        st.tuples(st.just("idle"), st.none()),
        st.tuples(st.just("timeout"), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=400, deadline=None)
@given(_steps)
def test_keys_arrive_once_in_order_and_lines_only_go_to_empty_prompts(steps) -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    typed = b""
    events = []
    for kind, value in steps:
        if kind == "out":
            events += tracker.feed(value)
        elif kind == "key":
            typed += value
            events += tracker.typed(value)
        elif kind == "size":
            tracker.resize(*value)
        elif kind == "idle":
            before = tracker.at_prompt
            new = tracker.idle()
            assert not sent(new) or before  # only an empty prompt gets a line
            events += new
        else:
            events += tracker.timeout()
    events += tracker.timeout()
    assert LINE.sub(b"", sent(events)) == typed
    assert not tracker.injecting


def test_keys_for_a_full_screen_program_are_not_type_ahead() -> None:
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK + b"$ ")
    tracker.typed(b"less file\r")
    tracker.feed(b"\x1b[?1049h\x1b[Hpage")
    tracker.resize(30, 100)
    tracker.typed(b"jjq")  # less's keys
    assert tracker.line is Line.RUNNING
    events = tracker.feed(b"\x1b[?1049l\r\n" + MARK + b"$ ")
    assert sent(events) == resize_line(30, 100)  # the prompt right after less gets the size
    tracker.feed(SIZED + MARK)
    tracker.typed(b"sleep 9\r")
    tracker.typed(b"ls")  # no alternate screen: type-ahead for the shell
    assert tracker.line is Line.DIRTY


def test_a_command_that_ran_before_the_line_keeps_its_output() -> None:
    # Keys on their way when the marker came ("ls\r") run before the injected line: their
    # output and prompt are shown; only what follows the size marker's prompt is dropped.
    tracker = PromptTracker(NONCE, 24, 80)
    tracker.feed(MARK)
    tracker.typed(b"less f\r")
    tracker.feed(b"\x1b[?1049h")
    tracker.typed(b"q")
    tracker.resize(30, 100)
    events = tracker.feed(b"\x1b[?1049l" + MARK + b"$ ")
    assert sent(events) == resize_line(30, 100)
    events = tracker.feed(b"ls\r\nfile-a\r\n" + MARK + b"$ ")
    assert shown(events) == b"$ ls\r\nfile-a\r\n"  # held, then shown: not ours
    assert tracker.injecting
    events = tracker.feed(b" __jobterm_size 30 100\r\n" + SIZED + MARK + b"$ ")
    assert shown(events) == b"$ "
    assert tracker.applied == (30, 100)
