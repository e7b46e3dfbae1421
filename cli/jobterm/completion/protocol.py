"""The completion protocol: what the shell sends, how jobterm reads it, what it answers.

The scripts in `completions/` (written by `gen.py`) run `jobterm` with

    _JOBTERM_COMPLETE=complete_bash | complete_zsh | complete_fish
    COMP_WORDS   the command line's words, joined by spaces: quoted as typed (bash, zsh),
                 or each percent-encoded (fish; `words.py` reads both)
    COMP_CWORD   the index in COMP_WORDS of the word being completed

and read back one candidate a line, `TYPE<TAB>VALUE<TAB>HELP`: TYPE is `plain`, `file` or
`dir` (the script then completes paths itself), HELP may be empty (zsh and fish show it).
VALUE is the word quoted for bash, or for zsh and fish the word itself escaped for
`printf %b` (they quote it themselves): see `quoting.py`. No field holds a tab, a newline
or any other control character.

`classify()` reads the words with a small table of jobterm's options (`COMMANDS`, checked
against the real CLI by a test; `spec.py` gives the full table once cached): it says whether
the word is the JOB of `attach`/`exec`/`debug`/`logs` or the value of `--project`/`-p` or
`--host`, the values `answers.py` finds without typer. Everything else goes to the CLI spec
or to typer.

Imported on every Tab: no typing, dataclasses, pathlib, re or shlex.
"""

from __future__ import annotations

from jobterm.completion.quoting import encode, visible
from jobterm.completion.words import scan, split_words, url_words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    Item = tuple[str, str, str]  # value, help, type (plain / file / dir)
    Request = tuple[str, list[str], str]  # shell, the complete words after `jobterm`, incomplete
    # kind ("job" / "project" / "host"), --project, --host, and "--project=" when completing
    # inside that word (zsh, fish)
    Target = tuple[str, "str | None", "str | None", str]

PROG = "jobterm"  # the program the scripts run (a test checks the CLI has this name)
COMPLETE_VAR = "_JOBTERM_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
PROJECT_OPTIONS = frozenset({"--project", "-p"})
HOST_OPTIONS = frozenset({"--host"})
ROOT_FLAGS = frozenset({"--debug"})

# The verbs whose JOB/--project/--host values are answered without typer: (options that take a
# value, options that do not, whether the first positional argument is a JOB). An option
# missing here only sends the request down the slow path; a test checks every entry against
# the real CLI (`test_fast_path_table_matches_the_cli`), so a wrong one fails the suite.
COMMANDS: dict[str, tuple[frozenset[str], frozenset[str], bool]] = {
    "attach": (
        frozenset(
            {"--project", "-p", "--host", "--wait-timeout", "--escape-char", "-e", "--record"}
        ),
        frozenset({"--wait", "--no-resize", "--record-input"}),
        True,
    ),
    "exec": (frozenset({"--project", "-p", "--host"}), frozenset(), True),
    "debug": (
        frozenset({"--project", "-p", "--host", "--exec", "--escape-char", "-e"}),
        frozenset(
            {"--no-retry", "--if-failed", "--shell-now", "--cancel-on-interrupt", "--no-resize"}
        ),
        True,
    ),
    "logs": (
        frozenset({"--project", "-p", "--host"}),
        frozenset({"--follow", "-f", "--raw"}),
        True,
    ),
    "jobs": (
        frozenset({"--project", "-p", "--host"}),
        frozenset({"--all", "--everywhere", "--json"}),
        False,
    ),
}


# -- the request -------------------------------------------------------------------------------


def read_request(environ: Mapping[str, str]) -> Request | None:
    shell = environ.get(COMPLETE_VAR, "").removeprefix("complete_")
    if shell not in SHELLS:
        return None
    line = environ.get("COMP_WORDS", "")
    words = url_words(line) if shell == "fish" else split_words(line)
    try:
        index = int(environ.get("COMP_CWORD", ""))
    except ValueError:
        index = len(words)
    index = max(1, min(index, len(words)))
    incomplete = words[index] if index < len(words) else ""
    args = words[1:index]
    if incomplete == "=" and args and args[-1].startswith("--"):
        # bash, at `--project=<Tab>`: the word under the cursor is the "=" itself
        args, incomplete = [*args, "="], ""
    return shell, args, incomplete


def classify(
    args: list[str],
    incomplete: str,
    commands: dict[str, tuple[frozenset[str], frozenset[str], bool]] = COMMANDS,
) -> Target | None:
    """Which dynamic value the word is, or None when it is none of them (or typer must say)."""
    i = 0
    while i < len(args) and args[i] in ROOT_FLAGS:
        i += 1
    if i >= len(args) or args[i] not in commands:
        return None
    values, flags, has_job = commands[args[i]]
    rest = args[i + 1 :]
    if rest and rest[-1] == "=":  # bash splits `--project=gr` into `--project`, `=`, `gr`
        rest = rest[:-1]
    seen: dict[str, str] = {}
    positionals = 0
    j = 0
    while j < len(rest):
        word = rest[j]
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in values:
            if not eq:
                if j + 1 == len(rest):
                    return _value_target(name, "", seen)  # the incomplete word is its value
                value = rest[j + 1]
                j += 1
            seen[name] = value
        elif word == "--" or (word.startswith("-") and word not in flags):
            return None
        elif not word.startswith("-"):
            positionals += 1
        j += 1
    if incomplete.startswith("--") and "=" in incomplete:
        name = incomplete.partition("=")[0]
        return _value_target(name, name + "=", seen) if name in values else None
    if incomplete.startswith("-") or not has_job or positionals:
        return None
    return "job", _project_of(seen), seen.get("--host"), ""


def _value_target(option: str, prefix: str, seen: dict[str, str]) -> Target | None:
    project, host = _project_of(seen), seen.get("--host")
    if option in PROJECT_OPTIONS:
        return "project", project, host, prefix
    if option in HOST_OPTIONS:
        return "host", project, host, prefix
    return None


def _project_of(seen: dict[str, str]) -> str | None:
    return seen.get("--project") or seen.get("-p")


# -- the answer ------------------------------------------------------------------------------


def open_quote(environ: Mapping[str, str]) -> tuple[str, str]:
    """The quote the word being completed is still inside, and what the word held before it
    (`words.scan`); bash's candidates depend on them. ("", "") unless the cursor's word is
    the last one."""
    words, quote, before = scan(environ.get("COMP_WORDS", ""))
    if environ.get("COMP_CWORD", "") != str(len(words) - 1):
        return "", ""
    return quote, before


def format_items(items: list[Item], shell: str, opened: tuple[str, str] = ("", "")) -> str:
    """The answer lines, each value quoted or escaped for `shell` (`quoting.py`)."""
    lines = []
    for value, help_, kind in items:
        field = encode(shell, value, *opened) if kind == "plain" else ""
        if field is not None:
            lines.append(f"{kind}\t{field}\t{visible(help_)}\n")
    return "".join(lines)
