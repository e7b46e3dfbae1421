"""Entry point: `jobterm` and `python -m jobterm`. The one error boundary of the CLI."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `typing`'s: importing typing costs milliseconds on every Tab
if TYPE_CHECKING:
    from typer._click import Command


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become one line on stderr.

    Kept free of heavy imports: `--version` and completion requests must start fast.
    """
    from jobterm.stdio import (
        CLOSED_STDOUT_MESSAGE,
        flush_stdout,
        guard_std_streams,
        is_closed_stdout_error,
        silence_stdout,
    )

    guard_std_streams()
    try:
        code = _run(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # --version or completion, and their reader went away
        silence_stdout()
        code = 0
    except OSError as exc:
        if not is_closed_stdout_error(exc):
            raise
        sys.stderr.write(CLOSED_STDOUT_MESSAGE + "\n")
        silence_stdout()
        code = 1
    problem = flush_stdout()  # what is still buffered must reach its reader, or be excused
    return code if problem is None else (code or problem)


def _run(args: list[str]) -> int:
    if "_JOBTERM_COMPLETE" in os.environ:  # a shell asking for completions: see completion/
        from jobterm.completion.respond import main as complete

        return complete(os.environ, sys.stdout, _build_cli)
    if args == ["--version"] or args == ["-V"]:
        from jobterm import __version__

        sys.stdout.write(f"jobterm {__version__}\n")
        return 0
    if args[:1] in (["exec"], ["attach"]):  # plain lines skip typer (core/quickargs.py)
        from jobterm.commands.quick import run_quick

        code = run_quick(args[0], args[1:])
        if code is not None:
            return code
    from jobterm.boundary import run_cli
    from jobterm.optional_values import fill_optional_values

    return run_cli(fill_optional_values(args))


def _build_cli() -> Command:
    """The click command, for the completions only the CLI itself can give."""
    from jobterm.app import build_command

    return build_command()


def run() -> None:
    """The console script and `python -m jobterm`: main(), then a quick exit (stdio.leave)."""
    from jobterm.stdio import leave

    leave(main())


if __name__ == "__main__":
    run()
