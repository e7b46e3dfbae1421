"""From a JOB argument to host, project and job id, asking the server nothing.

The host comes from the reference's URL, else `--host`/GITLAB_HOST/the default host (config
only); the project from the URL, `project#id`, `--project`, or this directory's git remote
on that host. When the project is a path (not a numeric id) the job's terminal URL follows:
`<base>/<project>/-/jobs/<id>/terminal.ws` (the job page's `web_url` plus `/terminal.ws`).
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlsplit

from jobterm.core.duration import WAIT_TIMEOUT
from jobterm.core.jobs import JobRef, parse_job_ref, project_from_remote, split_project_path
from jobterm.errors import UsageError

if TYPE_CHECKING:
    from jobterm.core.hosts import Host
    from jobterm.env import Environment


# A NamedTuple: every start creates this class (see ARCHITECTURE.md, "Start-up").
class JobQuery(NamedTuple):
    """Which job the user means, as the command line says it: JOB as typed (None: a picker
    may choose), --project, --host, and whether (and how long) to wait for it to run."""

    ref: str | None
    project: str | None = None
    host: str | None = None
    wait: bool = False
    wait_timeout: float = WAIT_TIMEOUT


class JobLocation(NamedTuple):
    """Where a job is, as far as the reference says: `project` may be a numeric id (REST
    turns it into a path), `job_id` None when the user gave none (a picker chooses)."""

    host: Host
    project: str
    job_id: int | None

    @property
    def project_is_path(self) -> bool:
        return not self.project.isdigit()

    @property
    def terminal_url(self) -> str | None:
        """The job terminal's WebSocket URL, when the reference alone says it."""
        if self.job_id is None or not self.project_is_path:
            return None
        path = quote(self.project.strip("/"), safe="/")
        return ws_url(self.host, f"{self.host.root}/{path}/-/jobs/{self.job_id}")


def ws_url(host: Host, job_path: str) -> str:
    scheme = "wss" if host.scheme == "https" else "ws"
    return f"{scheme}://{host.netloc}{job_path.rstrip('/')}/terminal.ws"


def ws_url_for(web_url: str, host: Host) -> str:
    """The job's terminal on the host signed in to: web_url names GitLab's external_url,
    which may be another alias or http:// behind a TLS proxy, and the cookie goes along."""
    if not web_url.startswith(("https://", "http://")):
        raise UsageError(f"unexpected job URL {web_url!r} from the server")
    return ws_url(host, urlsplit(web_url).path)


def git_remote_projects(cwd: str | None = None) -> list[tuple[str, str]]:
    """(host, project path) for each remote of the git repository around `cwd`."""
    try:
        out = subprocess.run(
            ["git", "remote", "-v"], cwd=cwd, capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[tuple[str, str]] = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            pair = project_from_remote(parts[1])
            if pair and pair not in found:
                found.append(pair)
    return found


def remote_project(host: Host) -> str | None:
    """The project of this directory's first git remote that points to `host`."""
    host_name = host.hostname.lower()
    for name, path in git_remote_projects():
        if name == host_name:
            return path
    return None


def project_for(host: Host, ref: JobRef, project: str | None, *, hint: str = "") -> str:
    """The project a reference means: its URL's, its `project#`, --project, the git remote."""
    if ref.path is not None:
        return split_project_path(ref.path, host.root) or ref.path
    if ref.project is not None:
        return ref.project
    if project:
        return project
    from_remote = remote_project(host)
    if from_remote:
        return from_remote
    raise UsageError(
        f"which project? no --project given and no git remote here points to {host.name}",
        hint or "pass --project GROUP/PROJECT or the job's URL",
    )


def host_for(env: Environment, ref: JobRef | None, host: str | None) -> Host:
    """The host a reference means (its URL's, else --host and the defaults); config only."""
    from jobterm.gitlab.config import load_config
    from jobterm.gitlab.session import resolve_host

    text = ref.origin if ref is not None and ref.origin else host
    return resolve_host(env, load_config(env), text)[0]


def locate(
    env: Environment, job_ref: str | None, *, project: str | None, host: str | None
) -> JobLocation:
    """Host, project and job id of a JOB argument, without a request to the server."""
    ref = parse_job_ref(job_ref) if job_ref else None
    where = host_for(env, ref, host)
    path = project_for(where, ref or JobRef(0), project)
    return JobLocation(where, path, ref.job_id if ref else None)
