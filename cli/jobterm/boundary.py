"""The one place where exceptions become messages and exit codes (see errors.py)."""

from __future__ import annotations

import logging
import sys
import traceback

from jobterm.errors import ExitCode, JobtermError


def _wants_debug(args: list[str]) -> bool:
    head = args[: args.index("--")] if "--" in args else args
    import os

    return "--debug" in head or os.environ.get("JOBTERM_DEBUG", "") not in ("", "0")


def format_error(exc: JobtermError) -> str:
    """One line: what went wrong, then what to do next (with any secret masked: a message
    may quote what the user typed, such as a URL with a password in it)."""
    from jobterm.core.redact import redact

    text = f"jobterm: {exc.message}"
    if exc.hint:
        text += f" ({exc.hint})"
    return redact(text)


def run_cli(args: list[str]) -> int:
    import typer

    from jobterm.app import build_command
    from jobterm.log import setup_logging

    debug = _wants_debug(args)
    setup_logging(debug)
    command = build_command()
    try:
        result = command.main(args=args, prog_name="jobterm", standalone_mode=False)
    except JobtermError as exc:
        if debug:
            _print_traceback()
        sys.stderr.write(format_error(exc) + "\n")
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:
        # click's usage errors (vendored by typer): print as click does, minus any secret
        # the user typed in the wrong place, exit 2.
        from jobterm.usage import show_usage_error

        show_usage_error(exc, args, command, sys.stderr)
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("jobterm: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `jobterm jobs | head`): not an error.
        _silence_stdout()
        return int(ExitCode.OK)
    except SystemExit:
        # click (vendored by typer) turns EPIPE into sys.exit(1) after wrapping the streams;
        # that is the same reader-went-away case as above.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            _silence_stdout()
            return int(ExitCode.OK)
        raise
    except Exception as exc:
        logging.getLogger("jobterm").debug("unexpected error", exc_info=True)
        if debug:
            _print_traceback()
        name = type(exc).__name__
        sys.stderr.write(
            f"jobterm: internal error: {name} (run again with --debug to see where; "
            "please report it)\n"
        )
        return int(ExitCode.ERROR)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


def _print_traceback() -> None:
    """--debug: the traceback, through the same redaction as the debug log."""
    from jobterm.core.redact import redact

    sys.stderr.write(redact(traceback.format_exc()))


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
