"""`jobterm watch`: hold a pipeline's failing job at its first failure, and hand it over."""

from __future__ import annotations

import typer

from jobterm.commands.common import (
    EscapeCharOption,
    HostOption,
    ProjectOption,
    WaitTimeoutOption,
    duration_option,
    env_seconds,
    environment,
)

HELP = """\
Watch a pipeline and get a shell in the first job of yours that fails, as it fails.

PIPELINE is an id or a pipeline's URL; by default the newest pipeline of this directory's
git branch (--ref another). --wait waits for a new one, e.g. right after `git push`.

A runner keeps a job whose script has ended for as long as a terminal attached before that
stays attached. So watch opens the terminal of every job of yours that runs (nothing is typed)
and keeps it: a job that succeeds is released at once, one that fails is held, with the bell
and a notification, and its shell handed to you in its build directory (exit releases it).
Where the log cannot tell how a job ended (its last line ran), it is kept --keep-unknown
(10s), then released: at the table, o opens the newest such job's shell, r lets them all go.
Each row says why a job cannot be held (another user's, no terminal, the docker executor).

Exit status: 0 if the pipeline succeeded, 1 if not; 130 on Ctrl-C (every job released).
"""


def register(app: typer.Typer) -> None:
    app.command("watch", help=HELP)(watch)


def watch(
    ctx: typer.Context,
    pipeline: str | None = typer.Argument(
        None, help="Pipeline id or URL (default: the newest of this branch).", show_default=False
    ),
    project: str | None = ProjectOption,
    host: str | None = HostOption,
    ref: str | None = typer.Option(None, "--ref", help="Branch or tag (default: this branch)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for a new pipeline to appear."),
    wait_timeout: float = WaitTimeoutOption,
    jobs: list[str] = typer.Option(
        [], "--jobs", metavar="PATTERN", help="Hold only jobs whose name matches (glob)."
    ),
    max_held: int = typer.Option(8, "--max-held", min=1, help="Terminals open at once."),
    keep_unknown: float = duration_option(
        10.0,
        "--keep-unknown",
        "How long a job whose result can't be told is kept.",
        allow_zero=True,
    ),
    no_shell: bool = typer.Option(
        False, "--no-shell", help="Only say which job failed, and let it go."
    ),
    exec_command: str | None = typer.Option(
        None, "--exec", metavar="CMD", help="Run CMD in each failed job instead of a shell."
    ),
    prepare: bool = typer.Option(
        True,
        "--prepare/--no-prepare",
        help="Move the shell to the build directory and set the job's predefined variables.",
    ),
    escape_char: str = EscapeCharOption,
) -> None:
    from jobterm.core.escape import parse_escape_char
    from jobterm.core.watchflow import Settings
    from jobterm.term.attach import AttachOptions
    from jobterm.term.watch import WatchOptions
    from jobterm.term.watch_run import run_watch

    env = environment(ctx)
    spec = None
    if exec_command is not None:
        from jobterm.commands.exec_run import build_spec

        spec = build_spec(env, [], exec_command, False, True, False, False)
    options = WatchOptions(
        attach=AttachOptions(
            escape_char=parse_escape_char(escape_char),
            term=env.environ.get("TERM") or None,
            fresh=False,  # the terminal was opened long before: its prompt came then
        ),
        settings=Settings(tuple(jobs), max_held, keep_unknown),
        shell=not no_shell,
        exec_spec=spec,
        prepare=prepare,
        poll=env_seconds(env, "JOBTERM_WATCH_POLL", 0.5, poll=True),
        log_poll=env_seconds(env, "JOBTERM_LOG_INTERVAL", 0.2, poll=True),
    )
    code = run_watch(
        env,
        pipeline,
        project=project,
        host=host,
        ref=ref,
        wait=wait_timeout if wait else None,
        options=options,
    )
    raise typer.Exit(code)
