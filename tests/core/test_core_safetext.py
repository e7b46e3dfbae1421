"""The one sanitiser of server text (core/safetext.py): every control character a terminal
would obey comes out visible, byte by byte and for any text hypothesis makes up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.safetext import is_safe, visible, visible_bytes

OSC52 = "\x1b]52;c;aGVsbG8=\x1b\\"
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
C1_CSI, C1_OSC = "\x9b", "\x9d"
HOSTILE = f"build{OSC52}{TITLE}{CLEAR}{C1_CSI}2J{C1_OSC}0;t\x9c"

# What a terminal must never receive from a sanitised string.
FORBIDDEN = {chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}


def assert_inert(text: str, *, newlines: bool = False) -> None:
    allowed = {"\n"} if newlines else set()
    assert not (set(text) & (FORBIDDEN - allowed)), repr(text)


def test_hostile_sequences_are_shown_not_obeyed():
    shown = visible(HOSTILE)
    assert_inert(shown)
    assert shown.startswith("build^[]52;c;aGVsbG8=^[\\^[]0;pwned^G^[[2J<9b>2J<9d>0;t<9c>")


@pytest.mark.parametrize("code", [*range(0x20), 0x7F])
def test_each_c0_control_in_caret_notation(code):
    assert visible(f"a{chr(code)}b") == f"a^{chr(code ^ 0x40)}b"


@pytest.mark.parametrize("code", range(0x80, 0xA0))
def test_each_c1_control_by_its_code(code):
    assert visible(chr(code)) == f"<{code:02x}>"


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200f", "\u061c"])
def test_bidirectional_controls_are_shown(char):
    assert visible(f"main{char}evil") == f"main<U+{ord(char):04X}>evil"


@pytest.mark.parametrize("text", ["build", "test:dash", "Ünïcödé 名前 🚀", "a b", "[bold]x[/]"])
def test_ordinary_text_is_left_alone(text):
    assert visible(text) is text or visible(text) == text
    assert is_safe(text)


def test_newlines_kept_only_when_asked():
    assert visible("a\nb\x1b") == "a^Jb^["
    assert visible("a\nb\x1b", keep_newlines=True) == "a\nb^["


def test_one_line_folds_whitespace_and_still_shows_controls():
    assert visible(" a\t\n b\x00c\x1bd ", one_line=True) == "a b c^[d"


def test_lone_surrogates_become_printable():
    assert visible("a\ud800b") == "a?b"


def test_bytes_whole_and_one_at_a_time():
    data = HOSTILE.encode("utf-8") + b"\xff\xfe tail"
    whole = visible_bytes(data)
    assert_inert(whole)
    assert "\ufffd" in whole
    for index in range(len(data)):
        assert_inert(visible_bytes(data[index : index + 1]))


@given(st.text())
def test_any_text_comes_out_inert(text):
    shown = visible(text)
    assert_inert(shown)
    assert is_safe(shown)
    assert visible(shown) == shown  # a second pass finds nothing left to do


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cf"))))
def test_text_without_controls_is_unchanged(text):
    assert visible(text) == text


@given(st.binary())
def test_any_bytes_come_out_inert(data):
    assert_inert(visible_bytes(data, keep_newlines=True), newlines=True)


@pytest.mark.parametrize("keep_newlines", [False, True])
def test_printable_text_skips_the_pattern_safely(keep_newlines):
    """visible() returns text that str.isprintable() accepts without looking further: that is
    right only while every character it rewrites is one isprintable() refuses."""
    from jobterm.core.safetext import _pattern

    pattern = _pattern(keep_newlines)
    rewritten = [chr(c) for c in range(0x110000) if pattern.match(chr(c))]
    assert len(rewritten) > 60  # C0, DEL, C1 and the bidi controls: the pattern is the real one
    assert not [c for c in rewritten if c.isprintable()]
    for char in rewritten:  # and those characters are rewritten whatever surrounds them
        assert visible(f"ab{char}", keep_newlines=keep_newlines) != f"ab{char}"
