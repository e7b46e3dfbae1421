"""`jobterm jobs`: your running jobs, in this project or everywhere."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from jobterm.commands.common import HostOption, ProjectOption, environment

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.jobs.listing import Listing

HELP = """\
List your running jobs, here or everywhere.

Looks in this directory's project (its git remote), in --project, or in all your projects
with --everywhere. TERMINAL says whether `jobterm attach ID` can open the job's terminal now.

With --all, list your recent jobs whatever their status. --json prints them for scripts.
"""


def register(app: typer.Typer) -> None:
    app.command("jobs", help=HELP)(jobs)


def jobs(
    ctx: typer.Context,
    project: str | None = ProjectOption,
    host: str | None = HostOption,
    everywhere: bool = typer.Option(
        False, "--everywhere", help="Look in all your projects, not just one."
    ),
    all_: bool = typer.Option(
        False, "--all", help="Include your pending and finished jobs (the most recent ones)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the jobs as JSON."),
) -> None:
    from jobterm.completion.cache import remember_listing
    from jobterm.gitlab.session import open_gitlab
    from jobterm.jobs.listing import find_jobs, listing_project

    env = environment(ctx)
    with _spinner(env, "finding your jobs…"), open_gitlab(env, host, need_web_session=False) as gl:
        path = None if everywhere else listing_project(gl.host, project)
        listing = find_jobs(gl, project=path, everywhere=everywhere, include_finished=all_)
    remember_listing(env.cache_dir, listing, path)
    if as_json:
        env.stdout.write((to_json(listing) + "\n").encode())
        env.stdout.flush()
    elif listing.jobs:
        _print_table(env, listing)
    if not listing.jobs:
        why, hint = empty_message(listing)
        from jobterm.core.safetext import visible

        env.stderr.write(visible(f"jobterm: {why} ({hint})") + "\n")


@contextlib.contextmanager
def _spinner(env: Environment, text: str) -> Iterator[None]:
    """A spinner on stderr while we wait on the network; only when stderr is a terminal."""
    if not env.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(file=env.stderr).status(text):
        yield


def _print_table(env: Environment, listing: Listing) -> None:
    import io
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from jobterm.core.safetext import visible
    from jobterm.jobs.listing import running_seconds

    def cell(value: object) -> Text:
        # The server's text: control characters shown, and no rich markup read into it.
        return Text(visible(str(value), one_line=True))

    terminal = env.stdout_isatty
    title = f"your {'recent' if listing.include_finished else 'running'} jobs in "
    title += f"{listing.where} on {listing.host}"
    table = Table(title=cell(title), title_justify="left", box=None, header_style="bold")
    for name in ("ID", "PROJECT", "JOB", "STAGE", "REF", "STATUS", "RUNNER", "RUNNING"):
        table.add_column(name, no_wrap=name in ("ID", "STATUS", "RUNNING"))
    table.add_column("TERMINAL", no_wrap=True)
    for job in listing.jobs:
        runner: dict[str, Any] = job.get("runner") or {}
        seconds = running_seconds(job)
        table.add_row(
            cell(job["id"]),
            cell(job.get("project", "")),
            cell(job.get("name", "")),
            cell(job.get("stage", "")),
            cell(job.get("ref", "")),
            cell(job.get("status", "")),
            cell(runner.get("description") or "-"),
            _duration(seconds),
            listing.terminals.get(int(job["id"]), "no"),
        )
    buffer = io.StringIO()
    # Piped output keeps whole lines (no wrapping at 80 columns) and no colour codes.
    width = shutil.get_terminal_size().columns if terminal else 250
    console = Console(file=buffer, width=width, force_terminal=terminal)
    console.print(table)
    text = buffer.getvalue()
    if not terminal:
        text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    env.stdout.write(text.encode())
    env.stdout.flush()


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def to_json(listing: Listing) -> str:
    import json

    from jobterm.core.redact import redact
    from jobterm.jobs.listing import running_seconds

    rows = []
    for job in listing.jobs:
        runner = job.get("runner") or {}
        rows.append(
            {
                "id": int(job["id"]),
                "project": job.get("project", ""),
                "name": job.get("name", ""),
                "stage": job.get("stage", ""),
                "ref": job.get("ref", ""),
                "status": job.get("status", ""),
                "runner": runner.get("description"),
                "started_at": job.get("started_at"),
                "seconds": running_seconds(job),
                "terminal": {"yes": True, "no": False}.get(
                    listing.terminals.get(int(job["id"]), "no")
                ),
                "web_url": redact(str(job.get("web_url", ""))),  # never a user:password@
            }
        )
    return json.dumps(rows, indent=2)


def empty_message(listing: Listing) -> tuple[str, str]:
    """Why nothing was listed, and what to try (one line each)."""
    what = "jobs" if listing.include_finished else "running jobs"
    if listing.everywhere:
        how = "via your pipelines" if listing.used_pipelines_api else "in your projects"
        why = f"you have no {what} on {listing.host} ({how}; {listing.projects_checked} checked)"
    else:
        why = f"you have no {what} in {listing.where} on {listing.host}"
    tries = []
    if not listing.include_finished:
        tries.append("--all to include finished and pending jobs")
    if not listing.everywhere:
        tries.append("--everywhere to look in all your projects")
    tries.append("or start a pipeline")
    return why, "try " + ", ".join(tries)
