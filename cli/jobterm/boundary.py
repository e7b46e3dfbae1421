"""The one place where exceptions become messages and exit codes (see errors.py)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable

from jobterm.errors import ExitCode, JobtermError
from jobterm.stdio import CLOSED_STDOUT_MESSAGE, is_closed_stdout_error, silence_stdout


def wants_debug(args: list[str]) -> bool:
    head = args[: args.index("--")] if "--" in args else args
    import os

    return "--debug" in head or os.environ.get("JOBTERM_DEBUG", "") not in ("", "0")


def format_error(exc: JobtermError) -> str:
    """One line: what went wrong, then what to do next (with any secret masked: a message
    may quote what the user typed, such as a URL with a password in it)."""
    from jobterm.core.redact import redact
    from jobterm.core.safetext import visible

    text = f"jobterm: {exc.message}"
    if exc.hint:
        text += f" ({exc.hint})"
    return visible(redact(text))  # messages quote the server's names and words


def run_cli(args: list[str]) -> int:
    """Parse `args` with the typer CLI and run what they say."""
    import typer

    from jobterm.app import build_command
    from jobterm.log import setup_logging

    debug = wants_debug(args)
    setup_logging(debug)
    command = build_command(args)

    def invoke() -> int:
        result = command.main(args=args, prog_name="jobterm", standalone_mode=False)
        return int(result) if isinstance(result, int) else int(ExitCode.OK)

    try:
        return guarded(invoke, debug, passing=(typer.Exit, typer.Abort, typer.TyperException))
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return _interrupted()
    except typer.TyperException as exc:
        # click's usage errors (vendored by typer): print as click does, minus any secret
        # the user typed in the wrong place, exit 2.
        from jobterm.usage import show_usage_error

        show_usage_error(exc, args, command, sys.stderr)
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except SystemExit:
        if not _click_saw_the_reader_go():
            raise
        return int(ExitCode.OK)


def guarded(
    call: Callable[[], int], debug: bool, *, passing: tuple[type[Exception], ...] = ()
) -> int:
    """`call()`'s exit code, or the exit code and one line of the exception it raised; the
    `passing` exceptions (the parser's own) go on to the caller."""
    try:
        return call()
    except JobtermError as exc:
        return _report(exc, debug)
    except passing:
        raise
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `jobterm jobs | head`): not an error.
        silence_stdout()
        return int(ExitCode.OK)
    except Exception as exc:
        return _unexpected(exc, debug)


def _interrupted() -> int:
    sys.stderr.write("jobterm: interrupted\n")
    return int(ExitCode.INTERRUPTED)


def _report(exc: JobtermError, debug: bool) -> int:
    """A jobterm error: its one line (and the traceback with --debug), its exit code."""
    if debug:
        _print_traceback()
    sys.stderr.write(format_error(exc) + "\n")
    return int(exc.exit_code)


def _click_saw_the_reader_go() -> bool:
    """Whether a SystemExit is click's (vendored by typer) way of reporting EPIPE, sys.exit(1)
    after wrapping the streams: the same reader-went-away case as BrokenPipeError (stdout is
    then silenced)."""
    if type(sys.stdout).__name__ != "PacifyFlushWrapper":
        return False
    silence_stdout()
    return True


def _unexpected(exc: Exception, debug: bool) -> int:
    """An exception no part of jobterm turned into an error: one line, exit 1."""
    if is_closed_stdout_error(exc):  # `>&-`: say so, as cat and ls do
        sys.stderr.write(CLOSED_STDOUT_MESSAGE + "\n")
        silence_stdout()
        return int(ExitCode.ERROR)
    logging.getLogger("jobterm").debug("unexpected error", exc_info=True)
    if debug:
        _print_traceback()
    sys.stderr.write(
        f"jobterm: internal error: {type(exc).__name__} (run again with --debug to see where; "
        "please report it)\n"
    )
    return int(ExitCode.ERROR)


def _print_traceback() -> None:
    """--debug: the traceback, through the same redaction as the debug log."""
    from jobterm.core.redact import redact
    from jobterm.core.safetext import visible

    sys.stderr.write(visible(redact(traceback.format_exc()), keep_newlines=True))
