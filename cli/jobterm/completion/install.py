"""`jobterm --install-completion` and `--show-completion`: the script of `gen.py` for the
shell jobterm runs in, written where that shell loads it, or printed.

typer's own versions of these options would install scripts for typer's protocol, which
jobterm does not answer: `app.py` turns them off (`add_completion=False`) and adds these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from jobterm.completion.gen import TEMPLATES, script
from jobterm.files import FILE_MODE, private_dir, write_private


def detect_shell(environ: Mapping[str, str]) -> str:
    """The shell jobterm runs in (shellingham, as typer does), else the login shell."""
    name = ""
    try:
        import shellingham  # type: ignore[import-untyped]

        name = str(shellingham.detect_shell()[0])
    except Exception:  # detection is best effort; $SHELL is the fallback
        name = ""
    if name not in TEMPLATES:
        name = os.path.basename(environ.get("SHELL", ""))
    if name not in TEMPLATES:
        from jobterm.errors import UsageError

        raise UsageError(
            "cannot tell which shell you use",
            "run it from the shell you want it for, or see README.md to install by hand",
        )
    return name


def _append_line(rc: Path, line: str) -> None:
    text = rc.read_text(encoding="utf-8") if rc.exists() else ""
    if line in text.splitlines():
        return
    private_dir(rc.parent)
    # A new rc file is the user's alone (0600, whatever the umask); an old one keeps its mode.
    fd = os.open(rc, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(("" if not text or text.endswith("\n") else "\n") + line + "\n")


def install(shell: str, environ: Mapping[str, str]) -> tuple[Path, str]:
    """Write the script where `shell` loads it; (its path, what else was changed)."""
    home = Path(environ.get("HOME") or Path.home())
    text = script(shell)
    if shell == "bash":
        path = home / ".bash_completions" / "jobterm.bash"
        extra = home / ".bashrc"
        line = f"[ -f {_tilde(path, home)} ] && . {_tilde(path, home)}"
    elif shell == "zsh":
        path = home / ".zfunc" / "_jobterm"
        extra = home / ".zshrc"
        line = "fpath+=~/.zfunc; autoload -Uz compinit; compinit"
    else:
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        path = config / "fish" / "completions" / "jobterm.fish"
        extra, line = None, ""
    write_private(path, text)  # a script the shell runs: nobody else may change it
    if extra is None:
        return path, "fish loads it by itself"
    _append_line(extra, line)
    return path, f"{extra} loads it"


def _tilde(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def install_callback(ctx: Any, param: Any, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    shell = detect_shell(os.environ)
    path, how = install(shell, os.environ)
    typer.echo(f"{shell} completion installed in {path} ({how}); open a new shell to use it")
    raise typer.Exit(0)


def show_callback(ctx: Any, param: Any, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    typer.echo(script(detect_shell(os.environ)), nl=False)
    raise typer.Exit(0)


def _eager_flag(name: str, callback: Any, help_: str) -> Any:
    """A root flag that acts while the line is parsed and then exits (as --help does)."""
    return typer.Option(
        False, name, callback=callback, is_eager=True, expose_value=False, help=help_
    )


# The root options that replace typer's own (app.py: `add_completion=False`).
InstallCompletionOption: Any = _eager_flag(
    "--install-completion",
    install_callback,
    "Install completion for the current shell (bash, zsh or fish).",
)
ShowCompletionOption: Any = _eager_flag(
    "--show-completion", show_callback, "Print the completion script for the current shell."
)
