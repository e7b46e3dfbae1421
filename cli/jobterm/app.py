"""The typer application: global options and the list of verbs.

Each verb lives in `jobterm/commands/<verb>.py` and exposes `register(app)`. Command modules
import only typer and jobterm's light modules at import time; httpx, websockets, aiohttp,
prompt_toolkit and keyring are imported inside the command functions, so `--help` and
completion stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import typer

from jobterm import __version__
from jobterm.completion.install import InstallCompletionOption, ShowCompletionOption

if TYPE_CHECKING:
    from typer._click import Command

# Order here is the order of `jobterm --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "attach",
    "exec_",
    "debug",
    "watch",
    "logs",
    "cp",
    "jobs",
    "login",
    "logout",
    "auth",
    "sandbox",
    "demo",
)

HELP = """\
Debug a running GitLab CI job from your terminal.

jobterm opens the job's interactive web terminal (the 'Debug' button of a job page) over
its WebSocket and connects it to your terminal, like SSH into the job.

Start with `jobterm demo` to try it against a built-in sandbox GitLab.
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jobterm {__version__}")
        raise typer.Exit(0)


def verb_module(args: list[str]) -> str | None:
    """The command module the command line runs: its first word that is not an option (the
    root's options take no value), when that word is a verb; else None."""
    for word in args:
        if word == "--":
            return None
        if not word.startswith("-"):
            wanted = "exec_" if word == "exec" else word
            return wanted if wanted in COMMAND_MODULES else None
    return None


def build_app(only: str | None = None) -> typer.Typer:
    """The whole CLI, or with `only` the root and that one command module: running a verb
    needs neither the other verbs' imports nor typer turning them into click commands."""
    app = typer.Typer(
        name="jobterm",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        add_completion=False,  # jobterm's own, below: its scripts speak jobterm's protocol
    )

    @app.callback()
    def _root(
        ctx: typer.Context,
        debug: bool = typer.Option(
            False, "--debug", help="Show a redacted log of HTTP/WebSocket traffic and tracebacks."
        ),
        version: bool = typer.Option(
            False,
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
        ),
        install_completion: bool = InstallCompletionOption,
        show_completion: bool = ShowCompletionOption,
    ) -> None:
        """Debug a running GitLab CI job from your terminal."""
        from jobterm.env import Environment

        ctx.obj = Environment()  # the one the commands use (`commands.common.environment`)

    _register_commands(app, COMMAND_MODULES if only is None else (only,))
    return app


def _register_commands(app: typer.Typer, names: tuple[str, ...]) -> None:
    for name in names:
        try:
            module = importlib.import_module(f"jobterm.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"jobterm.commands.{name}":
                raise
            continue  # verb not built yet
        module.register(app)


def build_command(args: list[str] | None = None) -> Command:
    """The click command of the CLI; given a command line, just what that line runs (an
    unknown verb gets the whole CLI, so that click can suggest the right one)."""
    return typer.main.get_command(build_app(verb_module(args) if args is not None else None))
