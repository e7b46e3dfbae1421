"""A cached description of jobterm's command line, so that Tab on a verb or an option name
does not import typer (which, building and coercing parameters through pydantic, costs a few
hundred milliseconds).

The first completion that has to ask typer (`resolve.slow_answer`) also writes
`<cache dir>/cli-spec.json` from the real click command: every verb with its short help,
every option with its names, help, whether it takes a value (and is a path, or has choices),
and the positional arguments (verbs with verbs of their own are left to typer). The
fingerprint (jobterm's version and the modification times of the modules that define the
CLI) makes an edited or upgraded jobterm rebuild it.

`answer()` then resolves a command line the way click's completion does (verbs; options not
given yet; an option's value; the first argument without a value) and returns None whenever
the spec cannot decide, so typer answers instead. `tests/completion/test_completion_spec.py` checks
the two agree over many command lines.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from typer._click import Command

    Item = tuple[str, str, str]
    Spec = dict[str, Any]

SPEC_FILE = "cli-spec.json"


def fingerprint() -> str:
    from jobterm import __version__

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    newest, count = 0.0, 0
    for directory in (package, *(os.path.join(package, d) for d in ("commands", "completion"))):
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.endswith(".py"):
                        newest = max(newest, entry.stat().st_mtime)
                        count += 1
        except OSError:
            continue
    return f"{__version__}:{count}:{newest}"


def load(cache_dir: str) -> Spec | None:
    try:
        from jobterm.files import load_json, read_back

        spec = load_json(read_back(os.path.join(cache_dir, SPEC_FILE)))
    except (OSError, ValueError):
        return None
    if not isinstance(spec, dict) or spec.get("fingerprint") != fingerprint():
        return None
    return spec


def save(cache_dir: str, spec: Spec) -> None:
    from jobterm.files import write_private

    try:  # noqa: SIM105 - contextlib would cost an import on every Tab
        write_private(os.path.join(cache_dir, SPEC_FILE), json.dumps(spec, separators=(",", ":")))
    except OSError:
        pass


def build(cli: Command) -> Spec:
    """The spec of the click command `cli` (a group of verbs)."""
    root_ctx = cli.context_class(cli, info_name="jobterm", **cli.context_settings)
    commands: dict[str, Any] = {}
    listing = []
    for name in cli.list_commands(root_ctx):  # type: ignore[attr-defined]
        command = cli.get_command(root_ctx, name)  # type: ignore[attr-defined]
        if command is None or command.hidden:
            continue
        listing.append([name, command.get_short_help_str()])
        ctx = command.context_class(command, info_name=name, parent=root_ctx)
        commands[name] = _describe(command, ctx)
        commands[name]["group"] = hasattr(command, "list_commands")  # e.g. `auth status`
    root = _describe(cli, root_ctx)
    root["commands"] = listing
    return {"fingerprint": fingerprint(), "root": root, "commands": commands}


def _describe(command: Command, ctx: Any) -> dict[str, Any]:
    options, arguments, variadic = [], [], False
    for param in command.get_params(ctx):
        opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        if opts and opts[0].startswith("-"):
            # typer 0.29 describes a parameter's type in `type_descriptor`; earlier releases
            # (and click itself) in `param.type`, a click.Path or click.Choice.
            descriptor = getattr(param, "type_descriptor", None)
            kind = getattr(param, "type", None)
            choices = getattr(descriptor or kind, "choices", None)
            is_path = getattr(descriptor, "is_path", False) or getattr(kind, "name", "") == "path"
            options.append(
                {
                    "names": opts,
                    "help": getattr(param, "help", None),
                    "value": not (getattr(param, "is_flag", False) or getattr(param, "count", 0)),
                    "multiple": bool(getattr(param, "multiple", False)),
                    "hidden": bool(getattr(param, "hidden", False)),
                    "path": bool(is_path),
                    "choices": [str(c) for c in choices] if choices else None,
                }
            )
        else:
            arguments.append(param.name)
            variadic = variadic or getattr(param, "nargs", 1) == -1
    return {"options": options, "arguments": arguments, "variadic": variadic}


def commands_table(spec: Spec) -> dict[str, tuple[frozenset[str], frozenset[str], bool]]:
    """`protocol.COMMANDS` as the spec knows it: every verb, every option."""
    table = {}
    for name, command in spec["commands"].items():
        values = frozenset(n for o in command["options"] if o["value"] for n in o["names"])
        flags = frozenset(n for o in command["options"] if not o["value"] for n in o["names"])
        table[name] = (values, flags, command["arguments"][:1] == ["job"])
    return table


def _find(options: list[dict[str, Any]], word: str) -> dict[str, Any] | None:
    return next((o for o in options if word in o["names"]), None)


def _option_names(options: list[dict[str, Any]], used: list[Any], incomplete: str) -> list[Item]:
    return [
        (name, option["help"] or "", "plain")
        for option in options
        if not option["hidden"] and (option["multiple"] or option not in used)
        for name in option["names"]
        if name.startswith(incomplete)
    ]


def _walk(
    options: list[dict[str, Any]], words: list[str]
) -> tuple[list[Any], int, dict[str, Any] | None] | None:
    """(options given, positional words, the option still waiting for its value) or None when
    the words hold something only click can read (`--`, unknown or joined options)."""
    used: list[Any] = []
    positionals = 0
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--" or "=" in word:
            return None
        if word.startswith("-"):
            option = _find(options, word)
            if option is None:
                return None
            used.append(option)
            if option["value"]:
                if i + 1 == len(words):
                    return used, positionals, option
                i += 1
        else:
            positionals += 1
        i += 1
    return used, positionals, None


def _value_of(option: dict[str, Any], incomplete: str) -> list[Item] | None:
    if option["choices"]:
        return [(c, "", "plain") for c in option["choices"] if c.startswith(incomplete)]
    if option["path"]:
        return [("", "", "file")]
    return None  # it may have its own completion: ask typer


def answer(spec: Spec, args: list[str], incomplete: str) -> list[Item] | None:
    """Completions of `incomplete` after `args`, as click would give them; None: ask typer."""
    root = spec["root"]
    if any(option["value"] for option in root["options"]):
        return None  # the split below assumes the root's options are flags
    i = next((k for k, word in enumerate(args) if not word.startswith("-")), len(args))
    if i == len(args):
        return _complete_level(root, args, incomplete, root["commands"])
    command = spec["commands"].get(args[i])
    if command is None or command["group"]:
        return None  # an unknown verb, or one with verbs of its own: typer knows
    return _complete_level(command, args[i + 1 :], incomplete, None)


def _complete_level(
    level: dict[str, Any], words: list[str], incomplete: str, verbs: list[Any] | None
) -> list[Item] | None:
    """One command's part of the line: `words` after its name, `verbs` if it is the group."""
    walked = _walk(level["options"], words)
    if walked is None:
        return None
    used, positionals, pending = walked
    if pending is not None:
        return _value_of(pending, incomplete)
    if incomplete.startswith("-") and "=" in incomplete:
        # `--record=out.c` as zsh and fish pass it: a path option's value is the shell's to
        # complete (click offers nothing there); for any other, ask typer
        joined = _find(level["options"], incomplete.partition("=")[0])
        return [("", "", "file")] if joined is not None and joined["path"] else None
    if incomplete.startswith("-"):
        return _option_names(level["options"], used, incomplete)
    if verbs is not None:
        return [(name, short, "plain") for name, short in verbs if name.startswith(incomplete)]
    if positionals < len(level["arguments"]) or level["variadic"]:
        return None  # an argument's value: its own completion, through typer
    return []
