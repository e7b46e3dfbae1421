"""The first prompt without waiting (core/setup.py, `early=True`): the shell's first output
is shown at once when it is one short line, and the screen ends exactly as it does when
everything before the set-up's marker is hidden: the fresh prompt alone. Checked on a
rendered screen (pyte), whole and with the stream cut anywhere."""

from __future__ import annotations

import itertools

import pyte
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.setup import ERASE_LINE, SetupFilter

COLS = 40
PROMPT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=COLS)


def _screen(shown: bytes) -> list[str]:
    screen = pyte.Screen(COLS, 6)
    pyte.ByteStream(screen).feed(shown)
    return screen.display


def _run(setup: SetupFilter, first: bytes, rest: bytes, cuts: list[int]) -> bytes:
    shown = setup.feed(first)
    setup.typed()  # as the session does once the prompt came
    edges = sorted({min(c, len(rest)) for c in cuts} | {0, len(rest)})
    for start, end in itertools.pairwise(edges):
        shown += setup.feed(rest[start:end])
    return shown


def _stream(setup: SetupFilter, fresh: str) -> bytes:
    """What a shell prints after its first prompt: the echo of the typed set-up line, the
    line's end, the marker, the prompt marker, the fresh prompt."""
    echo = setup.command().replace(b"\r", b"\r\n")
    prompt_marker = f"\x1b]jobterm-prompt;{setup.nonce}\x07".encode()
    return echo + setup.marker + prompt_marker + fresh.encode()


@given(first=PROMPT, fresh=PROMPT, cuts=st.lists(st.integers(0, 2000), max_size=6))
def test_the_screen_ends_as_if_nothing_had_been_shown_early(
    first: str, fresh: str, cuts: list[int]
) -> None:
    first_bytes = first.encode() or b"$ "
    early = SetupFilter(24, COLS + 1, None, nonce="ab12", early=True)
    waiting = SetupFilter(24, COLS + 1, None, nonce="ab12")
    rest = _stream(early, fresh)
    shown_early = _run(early, first_bytes, rest, cuts)
    shown_late = _run(waiting, first_bytes, rest, cuts)
    assert shown_early.startswith(first_bytes)  # at once, before anything else came
    assert _screen(shown_early) == _screen(shown_late)
    assert b"stty" not in shown_early  # the set-up itself is never shown


@pytest.mark.parametrize(
    "first",
    [
        b"Welcome\r\n$ ",  # a banner: two lines
        b"x" * 80,  # as wide as the window
        b"a\tb$ ",  # a tab moves the cursor
        b"\r$ ",  # so does a carriage return
        b"\x1b]0;user@host: ~\x07$ ",  # a title: an OSC, not one of the harmless sequences
        b"\x1b[2J$ ",  # erases the screen
    ],
)
def test_output_that_is_not_one_short_line_waits_like_the_rest(first: bytes) -> None:
    setup = SetupFilter(24, 80, None, nonce="cd34", early=True)
    assert setup.feed(first) == b""
    assert not setup.awaits_prompt  # the set-up is typed now, nothing gained by waiting
    setup.typed()
    assert setup.feed(setup.marker + b"$ ") == b"$ "  # no line erased: none was shown


def test_colours_and_modes_are_one_line_and_the_prompt_may_come_in_pieces() -> None:
    setup = SetupFilter(24, 80, None, nonce="ef56", early=True)
    assert setup.feed(b"\x1b[?2004h") == b"\x1b[?2004h"  # bracketed paste, alone in a frame
    assert setup.awaits_prompt  # nothing printable yet: the set-up still waits
    assert setup.feed(b"\x1b[1;32mme\x1b[0m$ ") == b"\x1b[1;32mme\x1b[0m$ "
    assert not setup.awaits_prompt
    setup.typed()
    assert setup.feed(b"$ more") == b""  # once typed, everything waits for the marker
    assert setup.feed(setup.marker + b"# ") == ERASE_LINE + b"# "
    assert setup.feed(b"typed") == b"typed"


def test_once_typed_nothing_is_shown_early_even_before_any_prompt() -> None:
    """The set-up was typed after the wait with no prompt yet: the echo of the line that
    comes next, however short a piece, is held."""
    setup = SetupFilter(24, 200, "xterm", nonce="1a2b", early=True)
    setup.typed()
    assert setup.feed(setup.command()[:60]) == b""
    assert setup.feed(b"$ " + setup.marker[:6]) == b""
    assert setup.feed(setup.marker[6:] + b"$ ") == b"$ "


def test_the_early_width_counts_every_piece() -> None:
    setup = SetupFilter(24, 10, None, nonce="3c4d", early=True)
    assert setup.feed(b"12345") == b"12345"
    assert setup.feed(b"6789") == b"6789"
    assert setup.feed(b"0") == b""  # the tenth column: erasing the line might not reach it


def test_a_timeout_after_an_early_prompt_releases_what_followed_it() -> None:
    setup = SetupFilter(24, 80, None, nonce="0a0b", early=True)
    assert setup.feed(b"$ ") == b"$ "
    setup.typed()
    assert setup.feed(b" stty rows") == b""
    assert setup.timeout() == b" stty rows"
