"""The dynamic values completion offers: job ids, projects and hosts, from the completion
cache (`cache.py`) and the config file (`where.py`) alone: no typer, no HTTP client, no
keyring, so that Tab on a JOB or a `--project`/`--host` value costs a few milliseconds.

`fast_answer()` is the whole answer when `protocol.classify()` (or the cached CLI spec) can
place the word; `complete_job`/`complete_project`/`complete_host` give the same values to
typer, whose JOB, --project and --host parameters name them as their `autocompletion`.

Completion offers nothing for a host you are not signed in to.
"""

from __future__ import annotations

import os

from jobterm.completion import cache
from jobterm.completion.protocol import COMMANDS, classify
from jobterm.completion.where import cache_dir, read_config, remote_projects, signed_in_host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from jobterm.completion.protocol import Item, Request


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


def job_items(
    environ: Mapping[str, str], host: str | None, project: str | None, verb: str = "attach"
) -> list[Item]:
    """The user's jobs for the JOB of `verb`: running ones for attach/exec; for debug the
    failed ones first (what it is for), then running ones; for logs running then failed."""
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
    order = JOB_ORDER.get(verb, ("running",))
    found: dict[str, list[Item]] = {status: [] for status in order}
    for row in (entry or {}).get("items", []):
        if not isinstance(row, list) or len(row) not in (4, 5):
            continue
        job_id, job_name, stage, ref = row[:4]
        status = str(row[4]) if len(row) == 5 else "running"
        if status in found:
            notes = f"{job_name} [{stage}] {ref}" + (f" {status}" if len(order) > 1 else "")
            found[status].append((str(job_id), notes.strip(), "plain"))
    return [item for status in order for item in found[status]]


JOB_ORDER = {"debug": ("failed", "running"), "logs": ("running", "failed")}


def _verb(args: list[str]) -> str:
    words = [a for a in args if not a.startswith("-")]
    return words[0] if words else ""


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
    from jobterm.completion import spec as cli_spec

    _, args, incomplete = request
    spec = cli_spec.load(cache_dir(environ))
    table = cli_spec.commands_table(spec) if spec is not None else COMMANDS
    target = classify(args, incomplete, table)
    if target is None:
        return cli_spec.answer(spec, args, incomplete) if spec is not None else None
    kind, project, host, prefix = target
    incomplete = incomplete.removeprefix(prefix)
    if kind == "job":
        items = job_items(environ, host, project, _verb(args))
    elif kind == "project":
        items = project_items(environ, host)
    else:
        items = host_items(environ)
    return [(prefix + value, help_, type_) for value, help_, type_ in items
            if value.startswith(incomplete)]  # fmt: skip


# -- typer's autocompletion callbacks (the slow path, and anyone building the click command) ---
# typer evaluates their annotations at start-up: builtins only (`object`, not `Any`).


def _param(ctx: object, name: str) -> str | None:
    value = getattr(ctx, "params", {}).get(name)
    return value if isinstance(value, str) and value else None


def complete_job(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    verb = str(getattr(ctx, "info_name", "") or "")
    items = job_items(os.environ, _param(ctx, "host"), _param(ctx, "project"), verb)
    return [(value, help_) for value, help_, _ in items if value.startswith(incomplete)]


def complete_project(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    items = project_items(os.environ, _param(ctx, "host"))
    return [(value, help_) for value, help_, _ in items if value.startswith(incomplete)]


def complete_host(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    items = host_items(os.environ)
    return [(value, help_) for value, help_, _ in items if value.startswith(incomplete)]
