"""Shell completion: the protocol jobterm's completion scripts speak, and the answers.

The protocol (the scripts in `completions/`, written by `completion_gen.py`, speak it): the
shell runs `jobterm` with

    _JOBTERM_COMPLETE=complete_bash | complete_zsh | complete_fish
    COMP_WORDS   the command line's words, joined by spaces, quoted as typed
    COMP_CWORD   the index in COMP_WORDS of the word being completed

and reads back one candidate a line, `TYPE<TAB>VALUE<TAB>HELP`: TYPE is `plain`, `file` or
`dir` (the script then completes paths itself), HELP may be empty (zsh and fish show it).

How an answer is found, fastest first:

* `__main__` sends every completion request here before typer is imported. `classify()` reads
  the words with a small table of jobterm's options (`COMMANDS`, checked against the real CLI
  by a test): if the word is the JOB of `attach`/`exec`, or the value of `--project`/`-p` or
  `--host`, the answer comes from the completion cache (`completion_cache.py`) and the config
  file alone: no typer, no HTTP client, no keyring.
* Anything else (command names, options, a word the table cannot place) goes to typer's own
  resolution (`slow_answer`), whose JOB/--project/--host parameters call the same functions
  through `complete_job`/`complete_project`/`complete_host`.

Completion never prompts, never writes to stderr (fd 2 goes to /dev/null), never fails (any
error means no candidates), and offers nothing for a host you are not signed in to.

Start-up time is the point of the fast path, so this module and `completion_cache` import no
typing, dataclasses, pathlib or jobterm.env/gitlab at module level (each costs milliseconds on
every Tab): values are plain tuples, and the config file and git remotes are read directly
by `completion_where` (the same file and the same host choice as `gitlab.config` /
`gitlab.session.resolve_host`, which a test checks).
"""

from __future__ import annotations

import os
import sys

from jobterm import completion_cache as cache
from jobterm.completion_where import (
    cache_dir,
    read_config,
    remote_projects,
    signed_in_host,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import IO, Any

    Item = tuple[str, str, str]  # value, help, type (plain / file / dir)
    Request = tuple[str, list[str], str]  # shell, the complete words after `jobterm`, incomplete
    # kind ("job" / "project" / "host"), --project, --host, and "--project=" when completing
    # inside that word (zsh, fish)
    Target = tuple[str, "str | None", "str | None", str]

COMPLETE_VAR = "_JOBTERM_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
PROJECT_OPTIONS = frozenset({"--project", "-p"})
HOST_OPTIONS = frozenset({"--host"})
ROOT_FLAGS = frozenset({"--debug"})

# The verbs whose JOB/--project/--host values are answered without typer: (options that take a
# value, options that do not, whether the first positional argument is a JOB). An option
# missing here only sends the request down the slow path; `tests/test_completion_protocol.py`
# checks every entry against the real CLI, so a wrong one fails the suite.
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


# -- the answers -------------------------------------------------------------------------------


def _cached(
    environ: Mapping[str, str], host: str, project: str | None, ttl: float
) -> cache.Entry | None:
    """The cache entry, refreshed in the background when stale; waited for (bounded) if absent."""
    directory = cache_dir(environ)

    def entry_of(data: dict[str, Any]) -> cache.Entry | None:
        if project is None:
            return cache.projects_entry(data, host)
        return cache.jobs_entry(data, host, project)

    entry = entry_of(cache.load(directory))
    if cache.is_fresh(entry, ttl):
        return entry
    started = cache.start_refresh(environ, directory, host, project)
    if entry is None and started:
        entry = entry_of(cache.wait_for(directory, lambda d: entry_of(d) is not None))
    return entry


def job_items(environ: Mapping[str, str], host: str | None, project: str | None) -> list[Item]:
    config = read_config(environ)
    name = signed_in_host(environ, config, host)
    if name is None or config is None:
        return []
    if project is None:
        remotes = remote_projects(config[1], name)
        if not remotes:
            return []
        project = remotes[0]
    entry = _cached(environ, name, project, cache.JOBS_TTL)
    items = []
    for row in (entry or {}).get("items", []):
        try:
            job_id, job_name, stage, ref = row
        except (TypeError, ValueError):
            continue
        items.append((str(job_id), f"{job_name} [{stage}] {ref}".strip(), "plain"))
    return items


def project_items(environ: Mapping[str, str], host: str | None) -> list[Item]:
    config = read_config(environ)
    name = signed_in_host(environ, config, host)
    if name is None or config is None:
        return []
    items = [(path, "git remote", "plain") for path in remote_projects(config[1], name)]
    known = {item[0] for item in items}
    entry = _cached(environ, name, None, cache.PROJECTS_TTL)
    for row in (entry or {}).get("items", []):
        if isinstance(row, list) and len(row) == 2 and row[0] not in known:
            items.append((str(row[0]), str(row[1]), "plain"))
            known.add(row[0])
    return items


def host_items(environ: Mapping[str, str]) -> list[Item]:
    config = read_config(environ)
    if config is None:
        return []
    default, hosts = config
    items = []
    for name, (_, username) in sorted(hosts.items()):
        notes = " ".join(n for n in (username, "(default)" if name == default else "") if n)
        items.append((name, notes, "plain"))
    return items


def fast_answer(environ: Mapping[str, str], request: Request) -> list[Item] | None:
    """The answer without typer, or None when only typer can give it."""
    from jobterm import completion_spec

    _, args, incomplete = request
    spec = completion_spec.load(cache_dir(environ))
    table = completion_spec.commands_table(spec) if spec is not None else COMMANDS
    target = classify(args, incomplete, table)
    if target is None:
        return completion_spec.answer(spec, args, incomplete) if spec is not None else None
    kind, project, host, prefix = target
    incomplete = incomplete.removeprefix(prefix)
    if kind == "job":
        items = job_items(environ, host, project)
    elif kind == "project":
        items = project_items(environ, host)
    else:
        items = host_items(environ)
    return [(prefix + value, help_, type_) for value, help_, type_ in items
            if value.startswith(incomplete)]  # fmt: skip


def slow_answer(request: Request, environ: Mapping[str, str] | None = None) -> list[Item]:
    """Ask typer (click's resolution of the command line) for everything else; also write
    the CLI's spec to the cache, so the next Tab need not (`completion_spec`)."""
    import contextlib
    import io

    from typer._click.shell_completion import ShellComplete

    from jobterm import completion_spec
    from jobterm.app import build_command

    _, args, incomplete = request

    class Resolver(ShellComplete):
        name = "jobterm"
        source_template = ""

        def source_vars(self) -> dict[str, Any]:
            return {}

        def get_completion_args(self) -> tuple[list[str], str]:
            return args, incomplete

        def format_completion(self, item: Any) -> str:
            return str(item.value)

    cli = build_command()
    if environ is not None:
        completion_spec.save(cache_dir(environ), completion_spec.build(cli))
    # Eager options' callbacks (e.g. --version) may print while the line is parsed.
    with contextlib.redirect_stdout(io.StringIO()):
        resolver = Resolver(cli, {}, "jobterm", COMPLETE_VAR)
        found = resolver.get_completions(list(args), incomplete)
        if not found and _wants_path(resolver, args, incomplete):
            return [("", "", "file")]
    return [(str(c.value), str(c.help or ""), str(c.type or "plain")) for c in found]


def _wants_path(resolver: Any, args: list[str], incomplete: str) -> bool:
    """Is the word the value of a Path parameter? (typer answers those with nothing and
    leaves paths to its scripts' `-o default`; ours say `file` instead.)"""
    from typer._click.shell_completion import _resolve_context, _resolve_incomplete

    ctx = _resolve_context(resolver.cli, {}, "jobterm", list(args))
    obj, _ = _resolve_incomplete(ctx, list(args), incomplete)
    if getattr(getattr(obj, "type_descriptor", None), "is_path", False):  # typer 0.29
        return True
    return getattr(getattr(obj, "type", None), "name", "") == "path"  # click.Path (typer < 0.29)


def format_items(items: list[Item]) -> str:
    def clean(text: str) -> str:
        return " ".join(text.split()) if any(c in text for c in "\t\r\n") else text

    return "".join(f"{kind}\t{clean(value)}\t{clean(help_)}\n" for value, help_, kind in items)


def main(environ: Mapping[str, str], out: IO[str]) -> int:
    """Answer one completion request (the shell set `_JOBTERM_COMPLETE`). Always exit 0."""
    _silence_stderr()
    try:
        request = read_request(environ)
        if request is None:
            return 0
        items = fast_answer(environ, request)
        if items is None:
            items = slow_answer(request, environ)
        out.write(format_items(items))
        out.flush()
    except Exception:  # noqa: S110 - a failed completion offers nothing; it never shows errors
        pass
    return 0


def _silence_stderr() -> None:
    """Nothing may reach the shell's command line: point fd 2 at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


# -- typer's autocompletion callbacks (the slow path, and anyone building the click command) ---
# typer evaluates their annotations at start-up: builtins only (`object`, not `Any`).


def _param(ctx: object, name: str) -> str | None:
    value = getattr(ctx, "params", {}).get(name)
    return value if isinstance(value, str) and value else None


def complete_job(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    items = job_items(os.environ, _param(ctx, "host"), _param(ctx, "project"))
    return [(value, help_) for value, help_, _ in items if value.startswith(incomplete)]


def complete_project(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    items = project_items(os.environ, _param(ctx, "host"))
    return [(value, help_) for value, help_, _ in items if value.startswith(incomplete)]


def complete_host(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    items = host_items(os.environ)
    return [(value, help_) for value, help_, _ in items if value.startswith(incomplete)]
