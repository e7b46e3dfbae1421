"""`jobterm exec`: one command in a fresh terminal of the job, with real output and status."""

from __future__ import annotations

import typer
from typer._click import core as click
from typer.core import TyperCommand

from jobterm.commands.common import (
    HostOption,
    ProjectOption,
    WaitOption,
    WaitTimeoutOption,
    duration_option,
    environment,
)
from jobterm.commands.exec_run import ExecRequest, run_request
from jobterm.completion.answers import complete_job

HELP = """\
Run one command in a running job and exit with its status, like `ssh host CMD`.

  jobterm exec JOB -- CMD [ARG...]     run CMD with exactly these arguments
  jobterm exec JOB -c 'SHELL LINE'     run a command line with the job's sh
  jobterm exec JOB JOB... -- CMD       run CMD in several jobs at once

JOB is a job id (the project comes from --project or this directory's git remote),
PROJECT#ID (group/app#123), or the job's web URL. Each run opens a new terminal session in
the job (only one may be open at a time) and ends it afterwards.

stdout gets exactly the bytes the command wrote. The job's terminal merges stderr into
stdout; --stderr keeps them apart by saving stderr in a temporary file in the job and
sending it once the command has ended (so it comes last, not interleaved).

stdin: piped input (any size, binary) reaches the command, then end-of-file; from a
terminal the command gets no input unless -i is given. -t runs the command on a terminal
of your size instead (for interactive programs; output then has terminal line endings).

Exit status: the command's own (0-255, 128+N when killed by signal N); 255 when jobterm
fails or the session ends before the status arrives (one line on stderr says why); 12
when --timeout passes (counted from connecting; the command is sent Ctrl-C); 130 on Ctrl-C.

Several JOBs: one jobterm, one connection per job, all at once. Each line of output is
prefixed with its job (`[101] ...`), no job reads stdin, and the exit status is the worst
(highest) of the jobs'. --json prints one JSON line per job instead: its exit status, the
error if jobterm failed for it, and its output.
"""

#: How many words followed `--` on the command line (click drops the `--` itself): those are
#: the command, and the positional words before it are JOBs.
AFTER_DASHES = "jobterm.exec.after_dashes"


class ExecCommand(TyperCommand):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            ctx.meta[AFTER_DASHES] = len(args) - args.index("--") - 1
        return super().parse_args(ctx, args)


def register(app: typer.Typer) -> None:
    app.command("exec", help=HELP, no_args_is_help=True, cls=ExecCommand)(exec_command)


def exec_command(
    ctx: typer.Context,
    job: str = typer.Argument(
        ...,
        metavar="JOB",
        help="Job id, PROJECT#ID, or job URL.",
        show_default=False,
        autocompletion=complete_job,
    ),
    command: list[str] | None = typer.Argument(
        None, metavar="-- CMD [ARG]", help="The command and its arguments.", show_default=False
    ),
    shell: str | None = typer.Option(
        None, "--shell", "-c", metavar="'LINE'", help="Run a shell command line with `sh -c`."
    ),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Pass stdin even when it is a terminal."
    ),
    no_stdin: bool = typer.Option(
        False, "--no-stdin", "-n", help="The command reads nothing (/dev/null), even if piped."
    ),
    tty: bool = typer.Option(
        False, "--tty", "-t", help="Run the command on a terminal of your size and TERM."
    ),
    stderr: bool = typer.Option(
        False, "--stderr", help="Keep stderr apart (sent after the command ends)."
    ),
    timeout: float | None = duration_option(
        None, "--timeout", "Interrupt the command after this long (e.g. 30, 90s, 5m)."
    ),
    project: str | None = ProjectOption,
    host: str | None = HostOption,
    wait: bool = WaitOption,
    wait_timeout: float = WaitTimeoutOption,
    as_json: bool = typer.Option(
        False, "--json", help="One JSON line per job: status, error and output."
    ),
) -> None:
    # The parameters above declare the CLI; their values are also in ctx.params, which
    # request_of reads, so that a test can hold the quick parser to this one.
    raise typer.Exit(run_request(environment(ctx), request_of(ctx)))


def request_of(ctx: click.Context) -> ExecRequest:
    """The request of a parsed `exec` command line (its context's parameters)."""
    p = ctx.params
    return ExecRequest(
        words=(p["job"], *(p["command"] or ())),
        after_dashes=ctx.meta.get(AFTER_DASHES),
        shell=p["shell"],
        interactive=p["interactive"],
        no_stdin=p["no_stdin"],
        tty=p["tty"],
        stderr=p["stderr"],
        timeout=p["timeout"],
        project=p["project"],
        host=p["host"],
        wait=p["wait"],
        wait_timeout=p["wait_timeout"],
        as_json=p["as_json"],
    )
