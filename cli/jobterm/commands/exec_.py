"""`jobterm exec`: one command in a fresh terminal of the job, with real output and status."""

from __future__ import annotations

import os

import typer

from jobterm.commands.common import (
    HostOption,
    ProjectOption,
    WaitTimeoutOption,
    duration,
    environment,
)
from jobterm.completion.answers import complete_job
from jobterm.core.execproto import ExecSpec, StdinMode, shell_argv
from jobterm.env import Environment
from jobterm.errors import ExitCode, JobtermError, UsageError

HELP = """\
Run one command in a running job and exit with its status, like `ssh host CMD`.

  jobterm exec JOB -- CMD [ARG...]     run CMD with exactly these arguments
  jobterm exec JOB -c 'SHELL LINE'     run a command line with the job's sh

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
"""


def register(app: typer.Typer) -> None:
    app.command("exec", help=HELP, no_args_is_help=True)(exec_command)


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
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        metavar="DURATION",
        parser=duration(),
        help="Interrupt the command after this long (e.g. 30, 90s, 5m).",
    ),
    project: str | None = ProjectOption,
    host: str | None = HostOption,
    wait: bool = typer.Option(False, "--wait", help="If the job is pending, wait until it runs."),
    wait_timeout: float = WaitTimeoutOption,
) -> None:
    env = environment(ctx)
    spec = build_spec(env, command or [], shell, interactive, no_stdin, tty, stderr)
    raise typer.Exit(_run(env, job, spec, timeout, project, host, wait, wait_timeout))


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


def _run(
    env: Environment,
    job: str,
    spec: ExecSpec,
    timeout: float | None,
    project: str | None,
    host: str | None,
    wait: bool,
    wait_timeout: float,
) -> int:
    from jobterm.jobs.terminal import resolve_terminal
    from jobterm.term.exec import ExecOptions, run_exec

    try:
        resolved = resolve_terminal(
            env, job, project=project, host=host, wait=wait, wait_timeout=wait_timeout
        )
    except JobtermError as exc:
        if exc.exit_code != ExitCode.TIMEOUT:
            exc.exit_code = ExitCode.EXEC_FAILED  # as ssh: any failure of jobterm is 255
        raise
    with resolved.gitlab:
        return run_exec(env, resolved, spec, ExecOptions(timeout=timeout))
