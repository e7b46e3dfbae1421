"""`jobterm demo`: the whole product in one command, against a throw-away sandbox."""

from __future__ import annotations

import typer

HELP = """\
Try jobterm: start a sandbox GitLab on 127.0.0.1, sign in to it and attach to a running job.

Nothing touches your real configuration or keyring: the demo signs in with its own config
directory and a temporary secrets file, and removes both when you leave (type ~. at the
start of a line, or exit the job's shell).
"""


def register(app: typer.Typer) -> None:
    app.command("demo", help=HELP)(demo)


def demo(
    job: str = typer.Option(
        "build", "--job", metavar="NAME", help="Which of the sandbox's running jobs to attach to."
    ),
) -> None:
    from jobterm.demo import run_demo

    raise typer.Exit(run_demo(job))
