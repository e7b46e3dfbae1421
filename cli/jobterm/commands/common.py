"""Options shared by several verbs."""

from __future__ import annotations

from typing import Any

import typer

from jobterm.completion.answers import complete_host, complete_job, complete_project
from jobterm.core.duration import WAIT_TIMEOUT
from jobterm.env import Environment

JobArgument = typer.Argument(
    None,
    help="Job id, PROJECT#ID, or job URL.",
    show_default=False,
    autocompletion=complete_job,
)
ProjectOption = typer.Option(
    None,
    "--project",
    "-p",
    metavar="PROJECT",
    help="Project path (group/project) or numeric id; default: this directory's git remote.",
    autocompletion=complete_project,
)
HostOption = typer.Option(
    None,
    "--host",
    metavar="HOST",
    envvar="GITLAB_HOST",
    help="GitLab instance (default: $GITLAB_HOST, else the default signed-in host).",
    autocompletion=complete_host,
)

EscapeCharOption = typer.Option(
    "~", "--escape-char", "-e", help="Escape character, or 'none' to disable escapes."
)


def duration_option(
    default: float | None, flag: str, help: str, *, allow_zero: bool = False
) -> Any:
    """A DURATION option: `core.duration`'s forms (30, 90s, 5m), exit 2 otherwise."""

    def parse(value: Any) -> float:
        from jobterm.core.duration import DurationError, parse_duration

        if isinstance(value, (int, float)):  # the option's default, already a number
            return float(value)
        try:
            return parse_duration(str(value), allow_zero=allow_zero)
        except DurationError as exc:
            raise typer.BadParameter(str(exc)) from None

    return typer.Option(default, flag, metavar="DURATION", parser=parse, help=help)


WaitOption = typer.Option(False, "--wait", help="If the job is pending, wait until it runs.")
WaitTimeoutOption = duration_option(
    WAIT_TIMEOUT, "--wait-timeout", "How long --wait waits (e.g. 90s, 10m).", allow_zero=True
)


def environment(ctx: typer.Context) -> Environment:
    """The command's Environment: the one the root callback built (app.py), passed down."""
    return ctx.ensure_object(Environment)


def env_seconds(env: Environment, name: str, default: float, *, poll: bool = False) -> float:
    """The duration in the environment variable `name` (`core.duration`'s forms), else
    `default`; a bad value is a bad command line naming the variable. A `poll` interval has
    a floor (core.duration.POLL_FLOOR)."""
    from jobterm.core.duration import POLL_FLOOR, seconds_from_env

    return seconds_from_env(env.environ, name, default, POLL_FLOOR if poll else None)
