"""`jobterm logs`: a job's log, once or followed to its end."""

from __future__ import annotations

import typer

from jobterm.commands.common import HostOption, JobArgument, ProjectOption, env_seconds, environment

HELP = """\
Print a job's log (what its page shows), finished or running.

JOB is a job id (the project comes from --project or this directory's git remote), a job
URL, or GROUP/PROJECT#ID. The runner's section markers are hidden and every escape sequence
but its colours is removed (a log can contain anything a script printed); colours only on a
terminal. --raw prints the log's bytes as GitLab stores them.

With -f, follow a running job's log until the job ends; the exit status is then 0 if the
job succeeded and 1 if not.
"""


def register(app: typer.Typer) -> None:
    app.command("logs", help=HELP)(logs)


def logs(
    ctx: typer.Context,
    job: str | None = JobArgument,
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow the log to the job's end."),
    raw: bool = typer.Option(False, "--raw", help="The log's bytes as stored, unfiltered."),
    project: str | None = ProjectOption,
    host: str | None = HostOption,
) -> None:
    from jobterm.jobs.actions import open_job
    from jobterm.jobs.locate import JobQuery
    from jobterm.term.logs import DEFAULT_INTERVAL, run_logs

    env = environment(ctx)
    interval = env_seconds(env, "JOBTERM_LOG_INTERVAL", DEFAULT_INTERVAL, poll=True)
    gl, proj, found = open_job(env, JobQuery(job, project, host), need_web_session=False)
    with gl:
        path = proj["path_with_namespace"]
        code = run_logs(env, gl, path, found, follow=follow, raw=raw, interval=interval)
    raise typer.Exit(code)
