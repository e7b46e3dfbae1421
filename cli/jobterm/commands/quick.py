"""The quick way in for plain `jobterm exec` and `jobterm attach` lines: read by
`core.quickargs` from the tables below, run without typer (see that module for why, and for
which lines qualify). Anything else, and any value this module cannot take as it is, goes
to typer's full parser, which reads the line as it always did."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jobterm.core.duration import WAIT_TIMEOUT
from jobterm.core.quickargs import Option, Scan, scan

if TYPE_CHECKING:
    from jobterm.commands.exec_run import ExecRequest

#: Where --host comes from when it is not given (as its typer declaration says).
HOST_VARIABLE = "GITLAB_HOST"
#: The options every verb here shares (tests hold each table to its click command).
_WHERE = (
    Option(("--project", "-p"), "project", takes_value=True),
    Option(("--host",), "host", takes_value=True),
    Option(("--wait",), "wait"),
    Option(("--wait-timeout",), "wait_timeout", takes_value=True),
)
EXEC_OPTIONS = (
    *_WHERE,
    Option(("--shell", "-c"), "shell", takes_value=True),
    Option(("--interactive", "-i"), "interactive"),
    Option(("--no-stdin", "-n"), "no_stdin"),
    Option(("--tty", "-t"), "tty"),
    Option(("--stderr",), "stderr"),
    Option(("--timeout",), "timeout", takes_value=True),
    Option(("--json",), "as_json"),
)
ATTACH_OPTIONS = (
    *_WHERE,
    Option(("--escape-char", "-e"), "escape_char", takes_value=True),
    Option(("--no-resize",), "no_resize"),
    Option(("--record",), "record", takes_value=True),
    Option(("--record-input",), "record_input"),
    Option(("--prepare",), "prepare"),
)


class _NotPlain(Exception):
    """A value typer must read (and word the error for)."""


def quick_request(args: list[str], environ: Mapping[str, str]) -> ExecRequest | None:
    """The request of `jobterm exec ARGS`, or None when typer must read the line."""
    from jobterm.commands.exec_run import ExecRequest

    found = scan(args, EXEC_OPTIONS)
    if found is None:
        return None
    try:
        where = _where(found, environ)
        timeout = _duration(found, "timeout", None)
    except _NotPlain:
        return None
    return ExecRequest(
        words=found.words,
        after_dashes=found.after_dashes,
        shell=_text(found, "shell"),
        interactive=_flag(found, "interactive"),
        no_stdin=_flag(found, "no_stdin"),
        tty=_flag(found, "tty"),
        stderr=_flag(found, "stderr"),
        timeout=timeout,
        as_json=_flag(found, "as_json"),
        **where,
    )


def attach_params(args: list[str], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The parameters of `jobterm attach ARGS` as typer's parser reads them (its context's
    `params`), or None."""
    found = scan(args, ATTACH_OPTIONS)
    if found is None or len(found.words) != 1 or found.after_dashes is not None:
        return None
    try:
        where = _where(found, environ)
    except _NotPlain:
        return None
    return {
        "job": found.words[0],
        "escape_char": _text(found, "escape_char") if "escape_char" in found.values else "~",
        "no_resize": _flag(found, "no_resize"),
        "record": _text(found, "record"),
        "record_input": _flag(found, "record_input"),
        "prepare": _flag(found, "prepare"),
        **where,
    }


def _where(found: Scan, environ: Mapping[str, str]) -> dict[str, Any]:
    host = _text(found, "host")
    return {
        "project": _text(found, "project"),
        "host": host if host is not None else (environ.get(HOST_VARIABLE) or None),
        "wait": _flag(found, "wait"),
        "wait_timeout": _duration(found, "wait_timeout", WAIT_TIMEOUT, allow_zero=True),
    }


def _flag(found: Scan, key: str) -> bool:
    return found.values.get(key) is True


def _text(found: Scan, key: str) -> str | None:
    value = found.values.get(key)
    return value if isinstance(value, str) else None


def _duration(found: Scan, key: str, default: float | None, allow_zero: bool = False) -> Any:
    from jobterm.core.duration import DurationError, parse_duration

    text = _text(found, key)
    if text is None:
        return default
    try:
        return parse_duration(text, allow_zero=allow_zero)
    except DurationError:  # typer words the error (exit 2)
        raise _NotPlain from None


def run_quick(verb: str, args: list[str]) -> int | None:
    """Run `jobterm VERB ARGS` through the one error boundary; None when typer must."""
    from jobterm.boundary import guarded, wants_debug
    from jobterm.env import Environment
    from jobterm.log import setup_logging

    if verb == "exec":
        request = quick_request(args, os.environ)
        if request is None:
            return None
        from jobterm.commands.exec_run import run_request

        call = lambda: run_request(Environment(), request)  # noqa: E731
    else:
        params = attach_params(args, os.environ)
        if params is None:
            return None
        from jobterm.commands.attach_start import start_attach

        call = lambda: start_attach(Environment(), **params)  # noqa: E731
    debug = wants_debug(args)
    setup_logging(debug)
    return guarded(call, debug)
