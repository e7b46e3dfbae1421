"""`jobterm debug`: a shell in the job that failed."""

from __future__ import annotations

import typer

from jobterm.commands.common import (
    EscapeCharOption,
    HostOption,
    JobArgument,
    ProjectOption,
    env_seconds,
    environment,
)

HELP = """\
Get a shell in a job that failed: retry it and hold it when its script ends.

GitLab offers a job's terminal only while the job runs, and a runner keeps a job whose
script has ended only for a terminal attached before that. So jobterm retries the finished
JOB (--no-retry refuses), waits for a runner, opens the new job's terminal at once and keeps
it while showing the job's log; when the script ends the shell becomes yours. Leaving it
(exit, ~.) lets the job finish.

The terminal's shell is a new one beside the script, started where the runner's executor
starts it (with the shell executor: the runner's own directory, none of the job's variables).
jobterm prepares it: it moves to the build directory ($CI_PROJECT_DIR, or the one the job's
log names), sets the job's predefined variables where the shell has none (never the project's
own or masked ones), and says in one line what holds. --no-prepare leaves it as it is.

While the log shows: ~s a shell now (or --shell-now), ~. leave, ~? help; Ctrl-C leaves
(--cancel-on-interrupt cancels the job too). --exec CMD runs one command in the held job
instead of a shell and exits with its status.

Exit status: 0 if the job succeeded after the shell, 1 if it failed; with --exec the
command's; 20 if the script ended before a terminal could attach (see README).
"""


def register(app: typer.Typer) -> None:
    app.command("debug", help=HELP)(debug)


def debug(
    ctx: typer.Context,
    job: str | None = JobArgument,
    project: str | None = ProjectOption,
    host: str | None = HostOption,
    no_retry: bool = typer.Option(False, "--no-retry", help="Do not retry a finished job."),
    if_failed: bool = typer.Option(
        False, "--if-failed", help="Only if the job failed; otherwise say so and exit 0."
    ),
    shell_now: bool = typer.Option(
        False, "--shell-now", help="The shell at once, while the script still runs."
    ),
    exec_command: str | None = typer.Option(
        None, "--exec", metavar="CMD", help="Run CMD in the held job instead of a shell."
    ),
    cancel_on_interrupt: bool = typer.Option(
        False, "--cancel-on-interrupt", help="Ctrl-C before the shell cancels the job."
    ),
    escape_char: str = EscapeCharOption,
    no_resize: bool = typer.Option(
        False, "--no-resize", help="Do not set the job's terminal size and TERM."
    ),
    prepare: bool = typer.Option(
        True,
        "--prepare/--no-prepare",
        help="Move the shell to the build directory and set the job's predefined variables.",
    ),
) -> None:
    from jobterm.core.escape import parse_escape_char
    from jobterm.jobs.locate import JobQuery
    from jobterm.term.attach import AttachOptions
    from jobterm.term.debug_io import DebugOptions
    from jobterm.term.debug_run import run_debug

    env = environment(ctx)
    spec = None
    if exec_command is not None:
        from jobterm.commands.exec_run import build_spec

        spec = build_spec(env, [], exec_command, False, True, False, False)
    options = DebugOptions(
        attach=AttachOptions(
            escape_char=parse_escape_char(escape_char),
            resize=not no_resize,
            term=env.environ.get("TERM") or None,
            watch_interval=env_seconds(env, "JOBTERM_WATCH_INTERVAL", 5.0, poll=True),
            fresh=False,  # the terminal was opened while the log ran: its prompt came then
        ),
        shell_now=shell_now,
        prepare=prepare,
        exec_spec=spec,
        cancel_on_interrupt=cancel_on_interrupt,
        log_interval=env_seconds(env, "JOBTERM_LOG_INTERVAL", 0.5, poll=True),
        session_wait=env_seconds(env, "JOBTERM_SESSION_WAIT", 15.0),
    )
    query = JobQuery(job, project, host)
    raise typer.Exit(
        run_debug(env, query, retry=not no_retry, if_failed=if_failed, options=options)
    )
