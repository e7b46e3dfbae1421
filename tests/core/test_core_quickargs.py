"""The quick reading of plain command lines (core/quickargs.py): what it reads, and that it
says "not plain" (None) for everything it cannot read exactly, whole or generated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.quickargs import Option, Scan, scan

OPTIONS = (
    Option(("--shell", "-c"), "shell", takes_value=True),
    Option(("--tty", "-t"), "tty"),
    Option(("--wait",), "wait"),
    Option(("--project", "-p"), "project", takes_value=True),
)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["101", "--", "true"], Scan({}, ("101", "true"), 1)),
        (["101"], Scan({}, ("101",), None)),
        (["101", "ls", "-la"], None),  # an option-like word before `--` that is not ours
        (
            ["-p", "g/a", "101", "--wait", "--", "ls", "-la"],
            Scan({"project": "g/a", "wait": True}, ("101", "ls", "-la"), 2),
        ),
        (["101", "--project=g/a", "--", "x"], Scan({"project": "g/a"}, ("101", "x"), 1)),
        (["101", "--shell=", "--"], Scan({"shell": ""}, ("101",), 0)),
        (["101", "-c", "a", "-c", "b"], Scan({"shell": "b"}, ("101",), None)),  # last wins
        (
            ["101", "102", "-t", "--", "--", "-h"],
            Scan({"tty": True}, ("101", "102", "--", "-h"), 2),
        ),
        (["--", "true"], None),  # no JOB before `--`
        ([], None),
        (["--wait"], None),
        (["101", "-h"], None),
        (["101", "--help", "--", "x"], None),
        (["101", "-tc", "x"], None),  # bundled
        (["101", "-cx"], None),  # glued short value
        (["101", "--wait=1"], None),  # a flag given a value
        (["101", "-c"], None),  # missing value
        (["101", "-c", "-x"], None),  # value looks like an option
        (["101", "-"], None),
        (["101", "--proj", "g/a"], None),  # no prefix matching
    ],
)
def test_readings(args: list[str], expected: Scan | None) -> None:
    assert scan(args, OPTIONS) == expected


WORDS = st.sampled_from(
    [
        "101",
        "g/a#7",
        "x y",
        "",
        "--",
        "-",
        "-c",
        "-t",
        "-p",
        "--shell",
        "--tty",
        "--wait",
        "--project",
        "--project=a",
        "--shell=",
        "--wait=",
        "-tc",
        "-cls",
        "-h",
        "--help",
        "--x",
    ]
)


@given(st.lists(WORDS, max_size=9))
def test_a_reading_accounts_for_every_word(args: list[str]) -> None:
    """Whatever it reads, every word is an option, a value or a positional word, and the
    words after `--` are positional whatever they look like."""
    found = scan(args, OPTIONS)
    if found is None:
        return
    assert found.words
    remaining = iter(args)  # the positional words are the line's own, in its order
    assert all(any(w == word for w in remaining) for word in found.words)
    if "--" in args:
        tail = args[args.index("--") + 1 :]
        assert found.after_dashes == len(tail)
        assert list(found.words[len(found.words) - len(tail) :]) == tail
        head = args[: args.index("--")]
    else:
        assert found.after_dashes is None
        head = args
    names = {name for option in OPTIONS for name in option.names}
    assert all(w in names or "=" in w or not w.startswith("-") for w in head)
    flags = {option.key for option in OPTIONS if not option.takes_value}
    assert all((value is True) == (key in flags) for key, value in found.values.items())
