"""The quick way in for plain `jobterm exec` lines: read by `core.quickargs`, run without
typer (see that module for why, and for which lines qualify). Anything else, and any value
this module cannot take as it is, goes to typer's full parser (`commands/exec_.py`)."""

from __future__ import annotations

from collections.abc import Mapping

from jobterm.commands.exec_run import ExecRequest
from jobterm.core.quickargs import Option, scan

#: Every option of `jobterm exec` (tests hold this to the click command's parameters).
OPTIONS = (
    Option(("--shell", "-c"), "shell", takes_value=True),
    Option(("--interactive", "-i"), "interactive"),
    Option(("--no-stdin", "-n"), "no_stdin"),
    Option(("--tty", "-t"), "tty"),
    Option(("--stderr",), "stderr"),
    Option(("--timeout",), "timeout", takes_value=True),
    Option(("--project", "-p"), "project", takes_value=True),
    Option(("--host",), "host", takes_value=True),
    Option(("--wait",), "wait"),
    Option(("--wait-timeout",), "wait_timeout", takes_value=True),
    Option(("--json",), "as_json"),
)

#: Where --host comes from when it is not given (as its typer declaration says).
HOST_VARIABLE = "GITLAB_HOST"


def quick_request(args: list[str], environ: Mapping[str, str]) -> ExecRequest | None:
    """The request of `jobterm exec ARGS`, or None when typer must read the line."""
    from jobterm.core.duration import DurationError, parse_duration

    found = scan(args, OPTIONS)
    if found is None:
        return None
    text = {key: value for key, value in found.values.items() if isinstance(value, str)}

    def flag(key: str) -> bool:
        return found.values.get(key) is True

    try:
        timeout = parse_duration(text["timeout"]) if "timeout" in text else None
        wait_timeout = parse_duration(text.get("wait_timeout", "600"), allow_zero=True)
    except DurationError:  # typer words the error (exit 2)
        return None
    return ExecRequest(
        words=found.words,
        after_dashes=found.after_dashes,
        shell=text.get("shell"),
        interactive=flag("interactive"),
        no_stdin=flag("no_stdin"),
        tty=flag("tty"),
        stderr=flag("stderr"),
        timeout=timeout,
        project=text.get("project"),
        host=text["host"] if "host" in text else (environ.get(HOST_VARIABLE) or None),
        wait=flag("wait"),
        wait_timeout=wait_timeout,
        as_json=flag("as_json"),
    )


def run_quick(args: list[str]) -> int | None:
    """Run `jobterm exec ARGS` through the one error boundary; None when typer must."""
    import os

    request = quick_request(args, os.environ)
    if request is None:
        return None
    from jobterm.boundary import guarded, wants_debug
    from jobterm.commands.exec_run import run_request
    from jobterm.env import Environment
    from jobterm.log import setup_logging

    debug = wants_debug(args)
    setup_logging(debug)
    return guarded(lambda: run_request(Environment(), request), debug)
