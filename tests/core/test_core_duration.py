"""The one duration parser (core/duration.py): what it accepts, and that nothing else gets
through, whole or as any text hypothesis can make up."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.duration import (
    FORMS,
    MAX_SECONDS,
    DurationError,
    parse_duration,
    seconds_from_env,
)
from jobterm.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("2.5", 2.5),
        (".5", 0.5),
        ("7.", 7.0),
        ("500ms", 0.5),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1.5h", 5400.0),
        (" 10S ", 10.0),
    ],
)
def test_accepted_forms(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "infinity",
        "-1",
        "-0.5",
        "+3",
        "1e3",
        "1e400",
        "",
        " ",
        "3_0",
        "1h30m",
        "5 m",
        "m",
        "0x10",
        "١٢",
        "1,5",
        "10d",
        "٣s",
    ],
)
def test_everything_else_is_refused_naming_the_forms(text):
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert FORMS in str(caught.value)


@pytest.mark.parametrize("text", ["0", "0s", "0.0", "0ms"])
def test_zero_only_where_it_means_something(text):
    with pytest.raises(DurationError, match="more than 0"):
        parse_duration(text)
    assert parse_duration(text, allow_zero=True) == 0.0


def test_longer_than_a_year_is_refused():
    with pytest.raises(DurationError, match="year"):
        parse_duration("9999999h")
    assert parse_duration(f"{MAX_SECONDS:.0f}") == MAX_SECONDS


@given(st.text(max_size=12))
def test_any_text_is_a_finite_duration_or_refused(text):
    try:
        seconds = parse_duration(text, allow_zero=True)
    except DurationError:
        return
    assert math.isfinite(seconds)
    assert 0 <= seconds <= MAX_SECONDS


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_python_prints_is_finite_and_not_negative_or_refused(value):
    try:
        seconds = parse_duration(repr(value))
    except DurationError:
        assert not math.isfinite(value) or value <= 0 or "e" in repr(value) or value > MAX_SECONDS
        return
    assert seconds == value


def test_environment_variables_use_the_same_parser():
    assert seconds_from_env({}, "JOBTERM_X", 5.0) == 5.0
    assert seconds_from_env({"JOBTERM_X": "250ms"}, "JOBTERM_X", 5.0) == 0.25
    with pytest.raises(UsageError, match="JOBTERM_X"):
        seconds_from_env({"JOBTERM_X": "nan"}, "JOBTERM_X", 5.0)
