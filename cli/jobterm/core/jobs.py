"""Job references as users type them: an id, `project#id`, or a job's web URL.

The pure half of "which job does the user mean": text in, a `JobRef` out, no I/O. It stays in
core/ (not in the jobs/ package, which does the REST look-ups over it) so that core's purity
test guards it: completion imports it on its fast path.

`123` names a job whose project must come from elsewhere (`--project`, the git remote).
`group/project#123` (or `42#123` with a numeric project id) names project and job on the
default host (or `--host`): with a project path, the terminal's URL is known without asking
the server.
`https://gitlab.example.com/group/sub/project/-/jobs/123` names host, project and job; the
host part keeps any relative URL root (`https://example.com/gitlab/group/project/-/jobs/1`
cannot be told apart from a project `gitlab/group/project` by its shape alone, so the caller
matches the URL against the configured hosts, longest base URL first).
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from jobterm.errors import UsageError

_JOB_PATH = re.compile(r"^(?P<prefix>/.*?)/-/jobs/(?P<id>[0-9]+)(?:/terminal(?:\.ws)?)?/?$")
_PROJECT_JOB = re.compile(r"^(?P<project>[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*)#(?P<id>[0-9]+)$")
_REMOTE_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


# A NamedTuple: every start creates this class (see ARCHITECTURE.md, "Start-up").
class JobRef(NamedTuple):
    job_id: int
    #: scheme://host[:port] of a URL reference, else None
    origin: str | None = None
    #: the URL's path before /-/jobs/ (relative root + project path), no leading slash
    path: str | None = None
    #: the project of a `project#id` reference: a full path or a numeric id
    project: str | None = None


def parse_job_ref(text: str) -> JobRef:
    """Parse a JOB argument: a positive id, `project#id`, or a job web URL."""
    text = text.strip()
    if text.isascii() and text.isdigit():  # not "¹", which int() refuses
        return JobRef(_job_id(text, text))
    if "://" not in text and "#" in text:
        return _project_job(text)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"{text!r} is neither a job id nor a job URL",
            "pass a number like 123456, group/project#123456, or a URL like "
            "https://gitlab.example.com/group/project/-/jobs/123456",
        )
    match = _JOB_PATH.match(parts.path)
    if match is None:
        raise UsageError(
            f"{text!r} is not a job URL",
            "copy the address of the job's page: it ends in /-/jobs/<id>",
        )
    path = unquote(match.group("prefix")).strip("/")
    if not path:
        raise UsageError(f"{text!r} has no project in its path", "copy the job page's address")
    netloc = parts.netloc.rpartition("@")[2]  # a user:password@ is never kept or shown
    return JobRef(int(match.group("id")), f"{parts.scheme}://{netloc}", path)


def _job_id(digits: str, text: str) -> int:
    job_id = int(digits)
    if job_id <= 0:
        raise UsageError(f"{text!r} is not a job id", "job ids are positive numbers")
    return job_id


def _project_job(text: str) -> JobRef:
    match = _PROJECT_JOB.match(text.strip("/"))
    if match is None or any(s in (".", "..") for s in match.group("project").split("/")):
        raise UsageError(
            f"{text!r} is not a job reference",
            "write PROJECT#ID with the project's full path, e.g. group/project#123456",
        )
    return JobRef(_job_id(match.group("id"), text), project=match.group("project"))


def split_project_path(url_path: str, root_path: str) -> str | None:
    """The project part of `url_path` under a host whose relative root is `root_path`."""
    root = root_path.strip("/")
    path = url_path.strip("/")
    if not root:
        return path or None
    if path == root or not path.startswith(root + "/"):
        return None
    return path[len(root) + 1 :] or None


def project_from_remote(remote_url: str) -> tuple[str, str] | None:
    """(host, project path) from a git remote URL (https, ssh://, or scp-like), else None."""
    url = remote_url.strip()
    if not url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        host = parts.hostname
        path = parts.path
    else:
        match = _REMOTE_SCP.match(url)
        if match is None:
            return None
        host, path = match.group("host"), match.group("path")
    if not host:
        return None
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return (host.lower(), path) if "/" in path else None
