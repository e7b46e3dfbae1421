"""Options shared by several verbs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from jobterm.completion.answers import complete_host, complete_job, complete_project
from jobterm.env import Environment
from jobterm.errors import UsageError

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


def duration(*, allow_zero: bool = False) -> Callable[[Any], float]:
    """A typer `parser` for a duration option: `core.duration`'s forms, exit 2 otherwise."""

    def parse(value: Any) -> float:
        from jobterm.core.duration import DurationError, parse_duration

        if isinstance(value, (int, float)):  # the option's default, already a number
            return float(value)
        try:
            return parse_duration(str(value), allow_zero=allow_zero)
        except DurationError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


WaitTimeoutOption = typer.Option(
    600.0,
    "--wait-timeout",
    metavar="DURATION",
    parser=duration(allow_zero=True),
    help="How long --wait waits (e.g. 90s, 10m).",
)


def environment(ctx: typer.Context) -> Environment:
    """The command's Environment: the one the root callback built (app.py), passed down."""
    return ctx.ensure_object(Environment)


def env_seconds(env: Environment, name: str, default: float) -> float:
    """A duration in seconds from the environment variable `name`, else `default`."""
    raw = env.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise UsageError(
            f"{name}={raw!r} is not a number of seconds", f"unset it, or set it to e.g. {default:g}"
        )
    return value
