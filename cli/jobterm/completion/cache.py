"""The small cache shell completion answers from, and its background refresh.

`<cache dir>/completion.json` (JOBTERM_CACHE_DIR, else $XDG_CACHE_HOME/jobterm), mode 0600:

    {"version": 1,
     "hosts": {"gitlab.example.com": {
        "projects": {"t": 1700000000.0, "items": [["group/app", "App"], ...]},
        "jobs": {"group/app": {"t": 1700000000.0, "items": [[123, "test", "test", "main"]]}}}}}

`t` is when the entry was last refreshed. A completion request answers from the cache at once;
when the entry is older than its TTL (or missing) it starts `python -m jobterm.completion.refresh
...` (`refresh.py`) as a detached process (own session, no terminal, stdio on /dev/null, so it can
never prompt and the shell never waits for it). Only for a *missing* entry does the request
wait, at most `WAIT_BOUND` seconds, for that process to fill it in. A lock file per entry keeps
a burst of Tab presses from starting a crowd of refreshers. A refresh that fails still stamps
the entry (keeping its items, or emptying them when the session is gone), so the next Tabs
neither wait nor start another refresher before the TTL passes.

`jobterm jobs` writes what it fetched here too, so listing jobs warms completion.

Imported on every Tab: only os, sys, time and json at module level (no pathlib, typing).
"""

from __future__ import annotations

import json
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from jobterm.jobs.listing import Listing

    Entry = dict[str, Any]
    PathLike = str | os.PathLike[str]

CACHE_FILE = "completion.json"
VERSION = 1
JOB_STATUSES = ("running", "failed")  # what JOB completes to: attach/exec, and debug/logs
CACHED_JOBS = 50
JOBS_TTL = 30.0  # running jobs come and go: refresh after half a minute
PROJECTS_TTL = 3600.0  # the projects a user is a member of change rarely
WAIT_BOUND = 0.5  # the longest a completion request waits on the network (via the refresher)
LOCK_AGE = 30.0  # a refresher's lock older than this is taken to be dead
PROTOCOL_VARS = frozenset({"_JOBTERM_COMPLETE", "COMP_WORDS", "COMP_CWORD"})


def cache_path(cache_dir: PathLike) -> str:
    return os.path.join(os.fspath(cache_dir), CACHE_FILE)


def load(cache_dir: PathLike) -> dict[str, Any]:
    """The whole cache; an empty one when missing or unreadable (completion must not fail)."""
    try:
        from jobterm.files import load_json, read_back

        data = load_json(read_back(cache_path(cache_dir)))
    except (OSError, ValueError):
        return {"version": VERSION, "hosts": {}}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {"version": VERSION, "hosts": {}}
    if not isinstance(data.get("hosts"), dict):
        data["hosts"] = {}
    return data


def _save(cache_dir: PathLike, data: dict[str, Any]) -> None:
    """Atomic write (a reader never sees half a file), private to the user."""
    from jobterm.files import write_private

    write_private(cache_path(cache_dir), json.dumps(data, separators=(",", ":")))


def _update(cache_dir: PathLike, host: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Read, change one host's part, write, under the cache's lock: a refresher and `jobterm
    jobs` writing at once keep each other's entries."""
    from jobterm.files import Locked

    try:
        with Locked(cache_path(cache_dir)):
            data = load(cache_dir)
            hosts: dict[str, Any] = data["hosts"]
            part = hosts.setdefault(host, {})
            if not isinstance(part, dict):
                part = hosts[host] = {}
            change(part)
            _save(cache_dir, data)
    except OSError:
        pass  # no cache, no harm: completion asks again next time


def host_part(data: Mapping[str, Any], host: str) -> Mapping[str, Any]:
    part = data.get("hosts", {}).get(host)
    return part if isinstance(part, dict) else {}


def jobs_entry(data: Mapping[str, Any], host: str, project: str) -> Entry | None:
    jobs = host_part(data, host).get("jobs")
    entry = jobs.get(project) if isinstance(jobs, dict) else None
    return entry if isinstance(entry, dict) else None


def projects_entry(data: Mapping[str, Any], host: str) -> Entry | None:
    entry = host_part(data, host).get("projects")
    return entry if isinstance(entry, dict) else None


def is_fresh(entry: Entry | None, ttl: float, now: float | None = None) -> bool:
    if entry is None:
        return False
    stamp = entry.get("t")
    if not isinstance(stamp, (int, float)):
        return False
    age = (time.time() if now is None else now) - stamp
    return 0 <= age < ttl


def job_row(job: Mapping[str, Any]) -> list[Any]:
    return [int(job["id"]), str(job.get("name", "")), str(job.get("stage", "")),
            str(job.get("ref", "")), str(job.get("status", ""))]  # fmt: skip


def remember_jobs(
    cache_dir: PathLike, host: str, project: str, jobs: Iterable[Mapping[str, Any]]
) -> None:
    """Record the user's jobs of `project` (as typed: path or id) on `host`: the running
    ones (attach, exec) and the failed ones (debug, logs)."""
    rows = [job_row(job) for job in jobs]

    def change(part: dict[str, Any]) -> None:
        table = part.get("jobs")
        if not isinstance(table, dict):
            table = part["jobs"] = {}
        table[project] = {"t": time.time(), "items": rows}

    _update(cache_dir, host, change)


def remember_projects(
    cache_dir: PathLike, host: str, projects: Iterable[Mapping[str, Any]]
) -> None:
    rows = [
        [str(p["path_with_namespace"]), str(p.get("name_with_namespace") or p.get("name") or "")]
        for p in projects
        if p.get("path_with_namespace")
    ]

    def change(part: dict[str, Any]) -> None:
        part["projects"] = {"t": time.time(), "items": rows}

    _update(cache_dir, host, change)


def remember_listing(cache_dir: PathLike, listing: Listing, typed: str | None) -> None:
    """What `jobterm jobs` just fetched is what completion offers: keep it here."""
    if listing.member_projects:
        remember_projects(cache_dir, listing.host, listing.member_projects)
    projects = set(listing.by_project)
    if not listing.everywhere and listing.where:
        projects.add(listing.where)
    for path in projects:
        jobs = [j for j in listing.by_project.get(path, []) if j.get("status") in JOB_STATUSES]
        remember_jobs(cache_dir, listing.host, path, jobs)
        if typed and typed != path and path == listing.where:
            remember_jobs(cache_dir, listing.host, typed, jobs)


def touch_entry(cache_dir: PathLike, host: str, project: str | None) -> None:
    """Mark an entry as just checked, keeping its items (the refresh failed; retry after TTL)."""

    def change(part: dict[str, Any]) -> None:
        if project is None:
            entry = part.setdefault("projects", {"items": []})
        else:
            entry = part.setdefault("jobs", {}).setdefault(project, {"items": []})
        entry["t"] = time.time()

    _update(cache_dir, host, change)


def forget_host(cache_dir: PathLike, host: str) -> None:
    """Drop everything cached for `host` (signed out, or its session is gone)."""
    from jobterm.files import Locked

    try:
        with Locked(cache_path(cache_dir)):
            data = load(cache_dir)
            if data["hosts"].pop(host, None) is not None:
                _save(cache_dir, data)
    except OSError:
        pass


# -- background refresh ------------------------------------------------------------------------


def _lock_path(cache_dir: PathLike, host: str, project: str | None) -> str:
    import hashlib

    key = hashlib.sha256(f"{host}\0{project or ''}".encode()).hexdigest()[:16]
    return os.path.join(os.fspath(cache_dir), f".refresh-{key}.lock")


def _take_lock(path: str) -> bool:
    """True if we may start a refresher (no live one holds the lock)."""
    from jobterm.files import private_dir

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        private_dir(os.path.dirname(path))
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        try:
            if time.time() - os.stat(path).st_mtime < LOCK_AGE:
                return False
            os.unlink(path)  # its refresher died: take over
            fd = os.open(path, flags, 0o600)
        except OSError:
            return False
    except OSError:
        return False
    os.close(fd)
    return True


def unlock(cache_dir: PathLike, host: str, project: str | None) -> None:
    try:  # noqa: SIM105 - contextlib would cost an import on every Tab
        os.unlink(_lock_path(cache_dir, host, project))
    except OSError:
        pass


def start_refresh(
    environ: Mapping[str, str], cache_dir: PathLike, host: str, project: str | None
) -> bool:
    """Start a detached refresher for one entry (`project=None`: the project list).

    Returns False when one is already running. Never raises: completion must not fail.
    """
    import subprocess

    if not _take_lock(_lock_path(cache_dir, host, project)):
        return False
    argv = [sys.executable, "-m", "jobterm.completion.refresh", host]
    argv += ["--project", project] if project is not None else ["--projects"]
    child_env = {k: v for k, v in environ.items() if k not in PROTOCOL_VARS}
    child_env["JOBTERM_CACHE_DIR"] = os.fspath(cache_dir)
    try:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the shell reads our stdout until every writer is gone
            stderr=subprocess.DEVNULL,
            env=child_env,
            start_new_session=True,  # no controlling terminal: it cannot prompt
            close_fds=True,
        )
    except OSError:
        unlock(cache_dir, host, project)
        return False
    return True


def wait_for(
    cache_dir: PathLike, present: Callable[[dict[str, Any]], bool], bound: float = WAIT_BOUND
) -> dict[str, Any]:
    """Poll the cache until `present(data)` is true or `bound` seconds pass; the last data."""
    deadline = time.monotonic() + bound
    while True:
        data = load(cache_dir)
        if present(data) or time.monotonic() >= deadline:
            return data
        time.sleep(0.02)
