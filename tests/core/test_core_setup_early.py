"""The first prompt without waiting (core/setup.py, `early=True`): the shell's first output
is shown at once when it is one short line, and the screen ends exactly as it does when
everything before the set-up's marker is hidden: the fresh prompt alone. Checked on a
rendered screen (pyte), whole and with the stream cut anywhere."""

from __future__ import annotations

import itertools

import pyte
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


def test_a_first_output_of_several_lines_or_too_long_waits_like_the_rest() -> None:
    for first in (b"Welcome\r\n$ ", b"x" * 80):
        setup = SetupFilter(24, 80, None, nonce="cd34", early=True)
        assert setup.feed(first) == b""
        assert setup.feed(setup.marker + b"$ ") == b"$ "  # no line erased: none was shown


def test_only_the_first_output_is_shown_early() -> None:
    setup = SetupFilter(24, 80, None, nonce="ef56", early=True)
    assert setup.feed(b"$ ") == b"$ "
    assert setup.feed(b"$ more") == b""
    assert setup.feed(setup.marker + b"# ") == ERASE_LINE + b"# "
    assert setup.feed(b"typed") == b"typed"


def test_a_timeout_after_an_early_prompt_releases_what_followed_it() -> None:
    setup = SetupFilter(24, 80, None, nonce="0a0b", early=True)
    assert setup.feed(b"$ ") == b"$ "
    assert setup.feed(b" stty rows") == b""
    assert setup.timeout() == b" stty rows"
