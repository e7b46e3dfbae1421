"""Candidates from the server reach each shell as one literal word (the class of defect:
server text read as shell syntax), checked by the real shells reading what jobterm writes."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobterm.completion.protocol import format_items
from jobterm.completion.quoting import bash_word, encode, for_printf_b, is_control, visible
from jobterm.completion.words import scan, url_words
from util import scaled

HOSTILE = [
    "demo/x; touch pwned",
    "demo/$(touch pwned)",
    "demo/`touch pwned`",
    'demo/it\'s "quoted"',
    "demo/two  spaces and a tab\there",
    "demo/line\nbreak",
    "demo/trailing newline\n",
    "demo/bang !! !$ !-1",
    "demo/back\\slash\\",
    "demo/\x1b]52;c;cHduZWQ=\x1b\\ and \x1b[2J and \x9b31m",
    "demo/{a,b} *? ~root $HOME ${x} > < | & #",
    "demo/ünïcödé ✓",
    "-p",
    "",
]
# values without NUL (no command-line word can hold one: those are left out, tested below)
VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
# what the user typed of the word: its start, and the quote left open ("" for none)
OPENED = st.sampled_from(["", "'", '"', "$'"])


def shell_words(shell: str, script: str) -> list[str]:
    """Run `script` in `shell`; it prints each word it read followed by a NUL."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    argv = {
        "bash": ["bash", "--norc", "-c"],
        "zsh": ["zsh", "-f", "-c"],
        "fish": ["fish", "-N", "-c"],
    }
    result = subprocess.run(
        [*argv[shell], script], capture_output=True, timeout=scaled(30), check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.decode("utf-8", "replace").split("\x00")[:-1]


def typed(value: str, opened: str, cut: int) -> tuple[str, str]:
    """The word as the user typed it so far: the value's first `cut` characters (quoted),
    then the quote `opened`; and what the word holds before that quote."""
    before = value[:cut]
    return (bash_word(before) if before else "") + opened, before


def inserted(value: str, opened: str, cut: int) -> str:
    """The word bash ends with after Tab, as readline puts the one candidate in: it keeps
    what was typed up to the open quote, replaces the quote too when the candidate starts
    with it, and appends the quote when the candidate does not end with it. (With no quote
    open, the candidate is the whole word.)"""
    if not opened:
        return bash_word(value)
    prefix, before = typed(value, opened, cut)
    candidate = bash_word(value, opened, before)
    quote = opened[-1]
    if candidate.startswith(quote):
        prefix = prefix[:-1]
    return prefix + candidate + ("" if candidate.endswith(quote) else quote)


@pytest.mark.parametrize("opened", ["", "'", '"', "$'"])
def test_bash_reads_every_hostile_name_as_itself(opened: str) -> None:
    words = [inserted(value, opened, 5) for value in HOSTILE]
    script = "".join(f"printf '%s\\0' {word}\n" for word in words)
    assert shell_words("bash", script) == HOSTILE


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(VALUES, OPENED, st.integers(0, 12)), min_size=1, max_size=8))
def test_bash_reads_any_value_as_itself(cases: list[tuple[str, str, int]]) -> None:
    words = [inserted(value, opened, cut) for value, opened, cut in cases]
    script = "".join(f"printf '%s\\0' {word}\n" for word in words)
    assert shell_words("bash", script) == [value for value, _, _ in cases]


@given(VALUES, OPENED, st.integers(0, 12))
def test_jobterm_reads_back_what_bash_inserts(value: str, opened: str, cut: int) -> None:
    """After a partial insertion the next Tab sends the line back: jobterm must read the
    word bash would read, and know which quote is open."""
    word = inserted(value, opened, cut)
    words, quote, _ = scan(f"jobterm jobs -p {word}")
    assert (words[-1], quote) == (value, "")
    prefix, before = typed(value, opened, min(cut, len(value)))
    if opened:
        assert scan(f"jobterm jobs -p {prefix}")[1:] == (opened, before)


def single_quoted(shell: str, text: str) -> str:
    if shell == "fish":  # fish reads \\ and \' inside single quotes
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(VALUES, min_size=1, max_size=8))
def test_printf_b_transport_gives_the_value_back(shell: str, values: list[str]) -> None:
    """zsh and fish get the value escaped for `printf %b` on one line; they decode it."""
    fields = [for_printf_b(value) for value in values]
    assert not any(is_control(c) for field in fields for c in field)
    quoted = " ".join(single_quoted(shell, field) for field in fields)
    if shell == "fish":
        script = f"for v in {quoted}; printf '%b\\0' $v; end"
    else:
        script = f"for v in {quoted}; do printf '%b\\0' \"$v\"; done"
    assert shell_words(shell, script) == values


def test_fish_words_arrive_percent_encoded() -> None:
    script = "string escape --style=url -- " + " ".join(single_quoted("fish", v) for v in HOSTILE)
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    out = subprocess.run(["fish", "-N", "-c", script], capture_output=True, text=True, check=True)
    assert url_words(" ".join(out.stdout.split("\n")[:-1])) == HOSTILE


@given(st.text(max_size=40))
def test_help_is_one_line_of_visible_text(text: str) -> None:
    shown = visible(text)
    assert not any(is_control(c) for c in shown)
    assert visible(shown) == shown


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@given(
    items=st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=6), opened=OPENED
)
def test_every_record_is_one_line_of_three_fields(
    shell: str, items: list[tuple[str, str]], opened: str
) -> None:
    out = format_items([(value, help_, "plain") for value, help_ in items], shell, (opened, ""))
    records = out.split("\n")[:-1]
    carried = [v for v, _ in items if encode(shell, v) is not None]
    assert len(records) == len(carried)
    for record in records:
        kind, value, help_ = record.split("\t")
        assert kind == "plain"
        assert not any(is_control(c) for c in value + help_)


def test_what_a_shell_cannot_carry_is_left_out() -> None:
    assert encode("bash", "a\x00b") is None
    assert encode("zsh", "a\ud800b") is None  # not UTF-8: no shell can be given it
    assert encode("fish", "a\tb") is None  # fish's tab separates a candidate from its help
    assert encode("zsh", "a\tb") == "a\\0011b"
    assert encode("bash", "a\tb") == "$'a\\011b'"
    assert encode("bash", "demo/webapp") == "demo/webapp"  # plain words stay plain
