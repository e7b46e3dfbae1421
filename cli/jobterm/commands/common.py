"""Options shared by several verbs."""

from __future__ import annotations

import typer

from jobterm.completion.answers import complete_host, complete_project
from jobterm.env import Environment
from jobterm.errors import UsageError

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


def environment(ctx: typer.Context) -> Environment:
    """The command's Environment: the one the root callback built (app.py), passed down."""
    return ctx.ensure_object(Environment)


_CARET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_?"


def parse_escape_char(text: str) -> bytes | None:
    if text.lower() == "none":
        return None
    if text.startswith("^") and len(text) == 2 and text[1].upper() in _CARET_CHARS:
        return bytes([ord(text[1].upper()) ^ 0x40])  # ^A is 0x01, ^] is 0x1d, ^? is DEL
    data = text.encode()
    if len(data) != 1:
        raise UsageError(f"--escape-char {text!r} is not one character", "use e.g. ~, ^], or none")
    return data
