"""`jobterm exec`: one command in a fresh terminal of the job, with real output and status."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from jobterm.completion.answers import complete_job
from jobterm.core.execproto import ExecSpec, StdinMode, shell_argv
from jobterm.env import Environment
from jobterm.errors import ExitCode, JobtermError, UsageError

if TYPE_CHECKING:
    from jobterm.jobs.locate import JobQuery

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
    env = environment(ctx)
    jobs, command = split_jobs(ctx.meta.get(AFTER_DASHES), job, command or [], shell)
    many = len(jobs) > 1 or as_json
    if many and (interactive or tty):
        raise UsageError("-i and -t take one JOB", "several jobs cannot share one input")
    spec = build_spec(env, command, shell, interactive, no_stdin or many, tty, stderr)
    from jobterm.jobs.locate import JobQuery

    queries = [JobQuery(one, project, host, wait, wait_timeout) for one in jobs]
    if not many:
        raise typer.Exit(_run(env, queries[0], spec, timeout))
    from jobterm.term.exec import ExecOptions
    from jobterm.term.fanout import run_many

    options = ExecOptions(timeout=timeout)
    raise typer.Exit(_as_exec_failure(lambda: run_many(env, queries, spec, options, as_json)))


def split_jobs(
    after_dashes: int | None, job: str, words: list[str], shell: str | None
) -> tuple[list[str], list[str]]:
    """(JOBs, command) from the positional words: those after `--` are the command, those
    before it more JOBs; with -c and no `--`, all are JOBs; else (no `--`) the command."""
    if after_dashes is None:
        return ([job, *words], []) if shell is not None else ([job], words)
    split = len(words) - after_dashes
    return [job, *words[:split]], words[split:]


def build_spec(
    env: Environment,
    command: list[str],
    shell: str | None,
    interactive: bool,
    no_stdin: bool,
    tty: bool,
    stderr: bool,
) -> ExecSpec:
    from jobterm.term.tty import terminal_size

    if bool(command) == (shell is not None):
        raise UsageError(
            "give the command after -- or as -c 'LINE', not both" if command else "no command",
            "e.g. `jobterm exec JOB -- ls -la` or `jobterm exec JOB -c 'ls | wc -l'`",
        )
    if no_stdin and (interactive or tty):
        raise UsageError("--no-stdin cannot be combined with --interactive or --tty")
    if stderr and tty:
        raise UsageError("--stderr cannot be combined with --tty (a terminal merges them)")
    argv = shell_argv(os.fsencode(shell)) if shell is not None else tuple(map(os.fsencode, command))
    if tty:
        mode = StdinMode.TTY
    elif no_stdin or (env.stdin_isatty and not interactive):
        mode = StdinMode.NULL
    else:
        mode = StdinMode.PIPE
    rows, cols = terminal_size(env.stdout.fileno())
    if (rows, cols) == (0, 0):
        rows, cols = terminal_size(env.stdin.fileno())
    return ExecSpec(
        argv,
        stdin=mode,
        rows=rows or 24,
        cols=cols or 80,
        term=env.environ.get("TERM") or "xterm-256color",
        stderr_apart=stderr,
    )


def _run(env: Environment, query: JobQuery, spec: ExecSpec, timeout: float | None) -> int:
    from jobterm.jobs.terminal import resolve_terminal, with_diagnosis
    from jobterm.term.exec import ExecOptions, run_exec

    def run() -> int:
        resolved = resolve_terminal(env, query)
        with resolved:
            options = ExecOptions(timeout=timeout)
            return with_diagnosis(resolved, lambda: run_exec(env, resolved, spec, options))

    return _as_exec_failure(run)


def _as_exec_failure(run: Callable[[], int]) -> int:
    """As ssh: any failure of jobterm is 255 (but a timeout 12 and an interrupt 130)."""
    try:
        return run()
    except JobtermError as exc:
        if exc.exit_code not in (ExitCode.TIMEOUT, ExitCode.INTERRUPTED):
            exc.exit_code = ExitCode.EXEC_FAILED
        raise
