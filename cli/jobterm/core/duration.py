"""Durations as users type them, for every option and variable that takes one (pure).

Accepted: a plain number of seconds (`30`, `2.5`, `.5`) or a number with a unit, `ms`, `s`,
`m` or `h` (`500ms`, `90s`, `5m`, `1h`). Nothing else: Python's `float()` would also take
`nan`, `inf`, `-1`, `1e400` and `  3_0 `, and a NaN timeout never expires while a negative
one expires before it starts. At most a year, so every clock and timer can hold it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jobterm.errors import UsageError

FORMS = "seconds (30, 2.5) or a number with ms, s, m or h (500ms, 90s, 5m, 1h)"
MAX_SECONDS = 366 * 24 * 3600.0
#: How long `--wait` waits for a pending job unless `--wait-timeout` says otherwise.
WAIT_TIMEOUT = 600.0

_DURATION = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<unit>ms|s|m|h)?")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class DurationError(ValueError):
    """Why a text is not an acceptable duration (the message names the accepted forms)."""


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds of `text`; DurationError saying what is accepted otherwise."""
    match = _DURATION.fullmatch(text.strip().lower()) if text.isascii() else None
    if match is None:
        raise DurationError(f"{_quoted(text)} is not a duration: use {FORMS}")
    seconds = float(match.group("number")) * _UNITS[match.group("unit")]
    if seconds == 0 and not allow_zero:
        raise DurationError(f"{_quoted(text)} is no time at all: give more than 0, {FORMS}")
    if seconds > MAX_SECONDS:
        raise DurationError(f"{_quoted(text)} is longer than a year")
    return seconds


def _quoted(text: str) -> str:
    """The input for a message: short, with control characters shown as escapes."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


#: The shortest interval a polling variable may ask for: faster would load the instance
#: with requests (a REST look every millisecond) and gain nothing a user could see.
POLL_FLOOR = 0.05


def seconds_from_env(
    environ: Mapping[str, str], name: str, default: float, minimum: float | None = None
) -> float:
    """The duration in the variable `name`, `default` when unset or empty; UsageError naming
    the variable when it holds anything else, or less than `minimum`."""
    text = environ.get(name, "")
    if not text:
        return default
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise UsageError(f"{name}: {exc}", f"fix or unset {name}") from None
    if minimum is not None and seconds < minimum:
        floor = f"{minimum * 1000:g}ms"
        raise UsageError(f"{name}: {text} is shorter than {floor}", f"give it {floor} or more")
    return seconds
