from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escape_model import reference
from jobterm.core.escape import Action, Command, Data, EscapeParser, Event


def feed_all(parser: EscapeParser, chunks: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def flatten(events: list[Event]) -> tuple[bytes, list[Action]]:
    data = b"".join(e.data for e in events if isinstance(e, Data))
    return data, [e.action for e in events if isinstance(e, Command)]


def bytewise(text: bytes) -> list[bytes]:
    return [text[i : i + 1] for i in range(len(text))]


@pytest.mark.parametrize(
    ("typed", "sent", "actions"),
    [
        (b"ls\r", b"ls\r", []),
        (b"~.", b"", [Action.DISCONNECT]),
        (b"echo\r~.", b"echo\r", [Action.DISCONNECT]),
        (b"a\n~?", b"a\n", [Action.HELP]),
        (b"~#~.", b"", [Action.STATUS, Action.DISCONNECT]),
        (b"~r", b"", [Action.RESIZE]),
        (b"~\x1a", b"", [Action.SUSPEND]),
        (b"~~", b"~", []),
        (b"~~.", b"~.", []),
        (b"a~.", b"a~.", []),  # not at the start of a line
        (b"~x", b"~x", []),  # unknown: both bytes go through
        (b"~\r~.", b"~\r", [Action.DISCONNECT]),
        (b"cd ~\rls ~/x\r", b"cd ~\rls ~/x\r", []),
    ],
)
def test_sequences_whole_and_byte_at_a_time(
    typed: bytes, sent: bytes, actions: list[Action]
) -> None:
    assert flatten(EscapeParser().feed(typed)) == (sent, actions)
    assert flatten(feed_all(EscapeParser(), bytewise(typed))) == (sent, actions)


def test_held_escape_waits_for_the_next_chunk() -> None:
    parser = EscapeParser()
    assert parser.feed(b"ls\r~") == [Data(b"ls\r")]
    assert parser.holding
    assert parser.feed(b".") == [Command(Action.DISCONNECT)]


def test_command_keeps_order_with_data() -> None:
    events = EscapeParser().feed(b"one\r~#two\r")
    assert events == [Data(b"one\r"), Command(Action.STATUS), Data(b"two\r")]


def test_other_escape_char_and_none() -> None:
    assert flatten(EscapeParser(b"%").feed(b"%.")) == (b"", [Action.DISCONNECT])
    assert flatten(EscapeParser(b"%").feed(b"~.")) == (b"~.", [])
    assert flatten(EscapeParser(None).feed(b"~.\r~.")) == (b"~.\r~.", [])


def test_large_paste_passes_unchanged() -> None:
    paste = (b"line with ~ tilde\n" * 60_000)[:1_000_000]
    data, actions = flatten(EscapeParser().feed(paste))
    assert data == paste
    assert actions == []


alphabet = st.sampled_from([b"~", b".", b"?", b"#", b"r", b"\r", b"\n", b"a", b"x"])


@given(st.lists(alphabet, max_size=60), st.data())
def test_matches_reference_under_any_chunking(parts: list[bytes], data: st.DataObject) -> None:
    typed = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(typed)), max_size=8)))
    chunks = [typed[a:b] for a, b in zip([0, *cuts], [*cuts, len(typed)], strict=True)]
    got_data, got_actions = flatten(feed_all(EscapeParser(), chunks))
    want_data, want_actions = reference(typed)
    assert got_actions == want_actions
    assert got_data == want_data
