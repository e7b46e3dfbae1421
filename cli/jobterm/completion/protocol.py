"""The completion protocol: what the shell sends, how jobterm reads it, what it answers.

The scripts in `completions/` (written by `gen.py`) run `jobterm` with

    _JOBTERM_COMPLETE=complete_bash | complete_zsh | complete_fish
    COMP_WORDS   the command line's words, joined by spaces, quoted as typed
    COMP_CWORD   the index in COMP_WORDS of the word being completed

and read back one candidate a line, `TYPE<TAB>VALUE<TAB>HELP`: TYPE is `plain`, `file` or
`dir` (the script then completes paths itself), HELP may be empty (zsh and fish show it).

`classify()` reads the words with a small table of jobterm's options (`COMMANDS`, checked
against the real CLI by a test; `spec.py` gives the full table once cached): it says whether
the word is the JOB of `attach`/`exec` or the value of `--project`/`-p` or `--host`, the
values `answers.py` finds without typer. Everything else goes to the CLI spec or to typer.

Imported on every Tab: no typing, dataclasses, pathlib, re or shlex at module level.
"""

from __future__ import annotations

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
    "jobs": (
        frozenset({"--project", "-p", "--host"}),
        frozenset({"--all", "--everywhere", "--json"}),
        False,
    ),
}


# -- the request -------------------------------------------------------------------------------


def split_words(line: str) -> list[str]:
    """Split like a POSIX shell: quotes and backslashes; an unfinished quote keeps the partial
    word. (shlex would do, but costs an import of `re` and more on every Tab.)"""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"' and i + 1 < len(line) and line[i + 1] in '"\\$`':
                i += 1
                word.append(line[i])
            else:
                word.append(char)
        elif char in "'\"":
            quote, in_word = char, True
        elif char == "\\":
            i += 1
            word.append(line[i] if i < len(line) else "")
            in_word = True
        elif char.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            word.append(char)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def read_request(environ: Mapping[str, str]) -> Request | None:
    shell = environ.get(COMPLETE_VAR, "").removeprefix("complete_")
    if shell not in SHELLS:
        return None
    words = split_words(environ.get("COMP_WORDS", ""))
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


def format_items(items: list[Item]) -> str:
    def clean(text: str) -> str:
        return " ".join(text.split()) if any(c in text for c in "\t\r\n") else text

    return "".join(f"{kind}\t{clean(value)}\t{clean(help_)}\n" for value, help_, kind in items)
