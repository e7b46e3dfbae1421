"""`jobterm attach`: the job's shell in your terminal."""

from __future__ import annotations

from pathlib import Path

import typer

from jobterm.commands.common import (
    EscapeCharOption,
    HostOption,
    JobArgument,
    ProjectOption,
    WaitOption,
    WaitTimeoutOption,
    environment,
)

HELP = """\
Open the terminal of a running job, like SSH into it.

JOB is a job id (the project comes from --project or this directory's git remote),
PROJECT#ID (group/app#123), or the job's web URL. With no JOB on a terminal, pick one of
your running jobs.

Escapes, typed at the start of a line: ~. disconnect, ~# status, ~r apply your terminal's
size now, ~^Z suspend jobterm (fg resumes), ~? help, ~~ a literal ~. Ctrl-C goes to the job.

jobterm sets the job's terminal size and TERM in-band when it connects (GitLab has no resize
message), hiding that set-up from the screen, and applies a new window size by itself at
the shell's next empty prompt (bash, zsh, dash, busybox sh); --no-resize turns it all off.

The shell is a new one beside the job's script, started where the runner's executor starts
it: with the shell executor in the runner's own directory, with none of the job's variables.
jobterm says in one line where it is and what it has; --prepare moves it to the build
directory and sets the job's predefined variables where it has none (as `jobterm debug` does).
"""


def register(app: typer.Typer) -> None:
    app.command("attach", help=HELP)(attach)


def attach(
    ctx: typer.Context,
    job: str | None = JobArgument,
    project: str | None = ProjectOption,
    host: str | None = HostOption,
    wait: bool = WaitOption,
    wait_timeout: float = WaitTimeoutOption,
    escape_char: str = EscapeCharOption,
    no_resize: bool = typer.Option(
        False,
        "--no-resize",
        help="Do not set the job's size and TERM, nor follow resizes.",
    ),
    record: Path | None = typer.Option(
        None, "--record", metavar="FILE", help="Write the session as an asciicast v2 file."
    ),
    prepare: bool = typer.Option(
        False,
        "--prepare",
        help="Move the shell to the build directory and set the job's predefined variables.",
    ),
    record_input: bool = typer.Option(
        False,
        "--record-input",
        help="With --record, record what you type too (including passwords typed at prompts that "
        "do not echo: only token-shaped text is redacted).",
    ),
) -> None:
    from jobterm.commands.attach_start import start_attach

    # The parameters above declare the CLI; their values are also in ctx.params, which is
    # what the quick parser (commands/quick.py) is held to.
    raise typer.Exit(start_attach(environment(ctx), **ctx.params))
