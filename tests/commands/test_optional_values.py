"""optional_values.py: `--from-browser` with and without its value."""

from __future__ import annotations

import pytest

from jobterm.optional_values import fill_optional_values


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["login", "h", "--from-browser"], ["login", "h", "--from-browser="]),
        (["login", "--from-browser", "--token"], ["login", "--from-browser=", "--token"]),
        (["login", "--from-browser", "chromium"], ["login", "--from-browser", "chromium"]),
        (["login", "--from-browser=firefox"], ["login", "--from-browser=firefox"]),
        (["exec", "101", "--", "--from-browser"], ["exec", "101", "--", "--from-browser"]),
        ([], []),
    ],
)
def test_fill_optional_values(args: list[str], expected: list[str]) -> None:
    assert fill_optional_values(args) == expected
