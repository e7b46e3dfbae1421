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
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from jobterm import completion_cache as cache

if TYPE_CHECKING:
    from collections.abc import Mapping

    from jobterm.env import Environment
    from jobterm.gitlab.config import Config

COMPLETE_VAR = "_JOBTERM_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
PROJECT_OPTIONS = frozenset({"--project", "-p"})
HOST_OPTIONS = frozenset({"--host"})
ROOT_FLAGS = frozenset({"--debug"})


@dataclass(frozen=True)
class CommandSpec:
    """What the fast path needs to know of one verb's options (see `COMMANDS`)."""

    values: frozenset[str]  # options that take a value
    flags: frozenset[str]  # options that do not
    job: bool  # its first positional argument is a JOB


# The verbs whose JOB/--project/--host values are answered without typer. An option missing
# here only sends the request down the slow path; `tests/test_completion_protocol.py` checks
# every entry against the real CLI, so a wrong one fails the suite.
COMMANDS: dict[str, CommandSpec] = {
    "attach": CommandSpec(
        frozenset(
            {"--project", "-p", "--host", "--wait-timeout", "--escape-char", "-e", "--record"}
        ),
        frozenset({"--wait", "--no-resize", "--record-input"}),
        job=True,
    ),
    "exec": CommandSpec(frozenset({"--project", "-p", "--host"}), frozenset(), job=True),
    "jobs": CommandSpec(
        frozenset({"--project", "-p", "--host"}),
        frozenset({"--all", "--everywhere", "--json"}),
        job=False,
    ),
}


@dataclass(frozen=True)
class Item:
    value: str
    help: str = ""
    type: str = "plain"


@dataclass(frozen=True)
class Request:
    shell: str
    args: list[str]  # the complete words after the program name
    incomplete: str  # the word being completed ("" after a space)


@dataclass(frozen=True)
class Target:
    """A word the fast path can answer: the JOB, or the value of --project/--host."""

    kind: str  # "job", "project" or "host"
    project: str | None = None  # --project given on the line
    host: str | None = None  # --host given on the line
    prefix: str = ""  # "--project=" when completing inside that word (zsh, fish)


# -- the request -------------------------------------------------------------------------------


def split_words(line: str) -> list[str]:
    """Split like a shell (quotes, backslashes); an unfinished quote keeps the partial word."""
    import shlex

    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        words.extend(lexer)
    except ValueError:
        words.append(lexer.token)
    return words


def read_request(environ: Mapping[str, str]) -> Request | None:
    instruction = environ.get(COMPLETE_VAR, "")
    shell = instruction.removeprefix("complete_")
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
    return Request(shell, args, incomplete)


def classify(args: list[str], incomplete: str) -> Target | None:
    """Which dynamic value the word is, or None when typer has to decide."""
    i = 0
    while i < len(args) and args[i] in ROOT_FLAGS:
        i += 1
    if i >= len(args) or args[i] not in COMMANDS:
        return None
    spec = COMMANDS[args[i]]
    rest = args[i + 1 :]
    if rest and rest[-1] == "=":  # bash splits `--project=gr` into `--project`, `=`, `gr`
        rest = rest[:-1]
    seen: dict[str, str] = {}
    positionals = 0
    j = 0
    while j < len(rest):
        word = rest[j]
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in spec.values:
            if not eq:
                if j + 1 == len(rest):
                    return _value_target(name, "", seen)  # the incomplete word is its value
                value = rest[j + 1]
                j += 1
            seen[name] = value
        elif word == "--" or (word.startswith("-") and word not in spec.flags):
            return None
        elif not word.startswith("-"):
            positionals += 1
        j += 1
    if incomplete.startswith("--") and "=" in incomplete:
        name = incomplete.partition("=")[0]
        return _value_target(name, name + "=", seen) if name in spec.values else None
    if incomplete.startswith("-") or not spec.job or positionals:
        return None
    return Target("job", _project_of(seen), seen.get("--host"))


def _value_target(option: str, prefix: str, seen: dict[str, str]) -> Target | None:
    project, host = _project_of(seen), seen.get("--host")
    if option in PROJECT_OPTIONS:
        return Target("project", project, host, prefix)
    if option in HOST_OPTIONS:
        return Target("host", project, host, prefix)
    return None


def _project_of(seen: dict[str, str]) -> str | None:
    return seen.get("--project") or seen.get("-p")


# -- the answers -------------------------------------------------------------------------------


def _config(env: Environment) -> Config | None:
    from jobterm.errors import JobtermError
    from jobterm.gitlab.config import load_config

    try:
        return load_config(env)
    except JobtermError:
        return None


def signed_in_host(env: Environment, config: Config | None, host: str | None) -> str | None:
    """The name of the host a command would use, or None when not signed in to it.

    Mirrors `gitlab.session.resolve_host` without its imports: --host, GITLAB_HOST, the default
    host, else the only one."""
    from jobterm.core.hosts import parse_host
    from jobterm.errors import JobtermError

    if config is None:
        return None
    text = host or env.environ.get("GITLAB_HOST") or config.default_host
    if not text and len(config.hosts) == 1:
        text = next(iter(config.hosts))
    if not text:
        return None
    try:
        name = parse_host(text).name
    except JobtermError:
        return None
    if name in config.hosts or env.environ.get("GITLAB_TOKEN"):
        return name
    return None


def remote_projects(config: Config, host_name: str) -> list[str]:
    """Projects of this directory's git remotes on `host_name` (as `jobterm attach` finds them)."""
    import subprocess

    from jobterm.core.hosts import parse_host
    from jobterm.core.jobs import project_from_remote

    entry = config.hosts.get(host_name)
    hostname = (entry.host if entry is not None else parse_host(host_name)).hostname
    try:
        out = subprocess.run(
            ["git", "remote", "-v"],
            capture_output=True,
            text=True,
            timeout=0.3,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[str] = []
    for line in out.splitlines():
        parts = line.split()
        pair = project_from_remote(parts[1]) if len(parts) >= 2 else None
        if pair and pair[0] == hostname and pair[1] not in found:
            found.append(pair[1])
    return found


def _cached(env: Environment, host: str, project: str | None, ttl: float) -> cache.Entry | None:
    """The cache entry, refreshed in the background when stale; waited for (bounded) if absent."""

    def entry_of(data: dict[str, Any]) -> cache.Entry | None:
        if project is None:
            return cache.projects_entry(data, host)
        return cache.jobs_entry(data, host, project)

    data = cache.load(env.cache_dir)
    entry = entry_of(data)
    if cache.is_fresh(entry, ttl):
        return entry
    started = cache.start_refresh(env, host, project)
    if entry is None and started:
        entry = entry_of(cache.wait_for(env.cache_dir, lambda d: entry_of(d) is not None))
    return entry


def job_items(env: Environment, host: str | None, project: str | None) -> list[Item]:
    config = _config(env)
    name = signed_in_host(env, config, host)
    if name is None or config is None:
        return []
    if project is None:
        remotes = remote_projects(config, name)
        if not remotes:
            return []
        project = remotes[0]
    entry = _cached(env, name, project, cache.JOBS_TTL)
    items = []
    for row in (entry or {}).get("items", []):
        try:
            job_id, job_name, stage, ref = row
        except (TypeError, ValueError):
            continue
        items.append(Item(str(job_id), f"{job_name} [{stage}] {ref}".strip()))
    return items


def project_items(env: Environment, host: str | None) -> list[Item]:
    config = _config(env)
    name = signed_in_host(env, config, host)
    if name is None or config is None:
        return []
    items = [Item(path, "git remote") for path in remote_projects(config, name)]
    known = {item.value for item in items}
    entry = _cached(env, name, None, cache.PROJECTS_TTL)
    for row in (entry or {}).get("items", []):
        if isinstance(row, list) and len(row) == 2 and row[0] not in known:
            items.append(Item(str(row[0]), str(row[1])))
            known.add(row[0])
    return items


def host_items(env: Environment) -> list[Item]:
    config = _config(env)
    if config is None:
        return []
    items = []
    for name, entry in sorted(config.hosts.items()):
        notes = [entry.username or ""]
        if name == config.default_host:
            notes.append("(default)")
        items.append(Item(name, " ".join(n for n in notes if n)))
    return items


def fast_answer(env: Environment, request: Request) -> list[Item] | None:
    target = classify(request.args, request.incomplete)
    if target is None:
        return None
    incomplete = request.incomplete.removeprefix(target.prefix)
    if target.kind == "job":
        items = job_items(env, target.host, target.project)
    elif target.kind == "project":
        items = project_items(env, target.host)
    else:
        items = host_items(env)
    return [
        Item(target.prefix + item.value, item.help, item.type)
        for item in items
        if item.value.startswith(incomplete)
    ]


def slow_answer(request: Request) -> list[Item]:
    """Ask typer (click's resolution of the command line) for everything else."""
    import contextlib
    import io

    from typer._click.shell_completion import ShellComplete

    from jobterm.app import build_command

    class Resolver(ShellComplete):
        name = "jobterm"
        source_template = ""

        def source_vars(self) -> dict[str, Any]:
            return {}

        def get_completion_args(self) -> tuple[list[str], str]:
            return request.args, request.incomplete

        def format_completion(self, item: Any) -> str:
            return str(item.value)

    # Eager options' callbacks (e.g. --version) may print while the line is parsed.
    with contextlib.redirect_stdout(io.StringIO()):
        resolver = Resolver(build_command(), {}, "jobterm", COMPLETE_VAR)
        found = resolver.get_completions(request.args, request.incomplete)
        if not found and _wants_path(resolver, request):
            return [Item("", "", "file")]
    return [Item(str(c.value), str(c.help or ""), str(c.type or "plain")) for c in found]


def _wants_path(resolver: Any, request: Request) -> bool:
    """Is the word the value of a Path parameter? (typer answers those with nothing and
    leaves paths to its scripts' `-o default`; ours say `file` instead.)"""
    from typer._click.shell_completion import _resolve_context, _resolve_incomplete

    ctx = _resolve_context(resolver.cli, {}, "jobterm", list(request.args))
    obj, _ = _resolve_incomplete(ctx, list(request.args), request.incomplete)
    return bool(getattr(getattr(obj, "type_descriptor", None), "is_path", False))


def format_items(items: list[Item]) -> str:
    def clean(text: str) -> str:
        return " ".join(text.split()) if any(c in text for c in "\t\r\n") else text

    return "".join(f"{i.type}\t{clean(i.value)}\t{clean(i.help)}\n" for i in items)


def main(environ: Mapping[str, str], out: IO[str]) -> int:
    """Answer one completion request (the shell set `_JOBTERM_COMPLETE`). Always exit 0."""
    from jobterm.env import Environment

    _silence_stderr()
    try:
        request = read_request(environ)
        if request is None:
            return 0
        env = Environment(environ=dict(environ))
        items = fast_answer(env, request)
        if items is None:
            items = slow_answer(request)
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


def _env() -> Environment:
    from jobterm.env import Environment

    return Environment()


def _param(ctx: Any, name: str) -> str | None:
    value = getattr(ctx, "params", {}).get(name)
    return value if isinstance(value, str) and value else None


def complete_job(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    items = job_items(_env(), _param(ctx, "host"), _param(ctx, "project"))
    return [(i.value, i.help) for i in items if i.value.startswith(incomplete)]


def complete_project(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    items = project_items(_env(), _param(ctx, "host"))
    return [(i.value, i.help) for i in items if i.value.startswith(incomplete)]


def complete_host(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    return [(i.value, i.help) for i in host_items(_env()) if i.value.startswith(incomplete)]
