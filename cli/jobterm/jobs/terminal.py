"""A JOB argument to a terminal that opens, connecting first and asking REST only why not.

The terminal's handshake says itself whether the terminal opens, so when the reference names
the terminal's URL (a job URL, `project#id`, an id with a project path) jobterm connects at
once, with the stored session cookie and no request before it (`resolve_terminal`'s fast
path). Only when the handshake fails does `with_diagnosis` ask the REST API why: GitLab
answers a bare 404 for most reasons (not running, not yours, no session server…), and a
sign-in redirect when the session expired, which the remember-me cookie may renew (then the
connection is tried once more).

The REST pre-checks run first instead when they are needed anyway: `--wait` (poll until the
job runs), no JOB (the picker lists the jobs), a numeric project id (REST names its path).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from jobterm.core.jobs import JobRef, parse_job_ref
from jobterm.errors import JobtermError, UsageError
from jobterm.jobs.locate import JobLocation, JobQuery, project_for, ws_url_for
from jobterm.jobs.status import check_can_open, label, wait_until_running
from jobterm.term.connection import HandshakeNotFound, HandshakeSignedOut, TerminalTarget

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab
    from jobterm.gitlab.session import HostSession

T = TypeVar("T")
Job = dict[str, Any]


@dataclass
class ResolvedJob:
    session: HostSession
    project: str  # full path
    job_id: int
    target: TerminalTarget = field(repr=False)
    #: the job's REST JSON once something asked for it (None on the fast path)
    job: Job | None = None
    #: the REST pre-checks passed: a failed handshake needs no diagnosis
    checked: bool = False
    #: the numeric project id whose path came from the facts cache (gitlab/facts.py)
    project_id: str | None = None

    @property
    def gitlab(self) -> GitLab:
        """The REST client (built on first use; the session is checked by `diagnose`)."""
        return self.session.gitlab(need_web_session=True, check=False)

    @property
    def label(self) -> str:
        return label(self.job) if self.job is not None else f"job {self.job_id}"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ResolvedJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def terminal_target(session: HostSession | GitLab, ws_url: str, job_id: int) -> TerminalTarget:
    """What the WebSocket needs: the URL, the session cookie, and the REST client's trust."""
    return TerminalTarget(
        ws_url=ws_url,
        cookie_header=session.cookie_header(),
        ssl_context=session.ssl_context(),
        host_label=session.host.name,
        job_id=job_id,
    )


def resolve_terminal(
    env: Environment,
    query: JobQuery,
    *,
    tick: Callable[[Job], None] | None = None,
    pick: Callable[[GitLab, str], int] | None = None,
    progress: Callable[[], AbstractContextManager[object]] | None = None,
    sessions: dict[str | None, HostSession] | None = None,
) -> ResolvedJob:
    """Where the job's terminal is; checked over REST only when that is needed anyway
    (`progress()` wraps those requests, e.g. in a spinner). `sessions` shares one signed-in
    host (one keyring read) among several jobs; its owner closes them."""
    from jobterm.gitlab.session import open_host

    ref = parse_job_ref(query.ref) if query.ref else None
    where_to = ref.origin if ref and ref.origin else query.host
    session = (sessions or {}).get(where_to)
    if session is None:
        session = open_host(env, where_to, need_web_session=True)
        if sessions is not None:
            sessions[where_to] = session
    try:
        path = project_for(session.host, ref or JobRef(0), query.project)
        known = session.facts().project_path(path) if path.isdigit() else None
        where = JobLocation(session.host, known or path, ref.job_id if ref else None)
        url = where.terminal_url
        if url is not None and where.job_id is not None and not query.wait:
            target = terminal_target(session, url, where.job_id)
            project_id = path if known else None
            return ResolvedJob(session, where.project, where.job_id, target, project_id=project_id)
        with progress() if progress is not None else contextlib.nullcontext():
            return _checked(session, ref, path, query, tick, pick)
    except BaseException:
        if sessions is None:
            session.close()
        raise


def _checked(
    session: HostSession,
    ref: JobRef | None,
    path: str,
    query: JobQuery,
    tick: Callable[[Job], None] | None,
    pick: Callable[[GitLab, str], int] | None,
) -> ResolvedJob:
    """The REST way: find the project and job, wait if asked, run the pre-checks."""
    gl = session.gitlab(need_web_session=True)
    proj = gl.project(path)
    if path.isdigit():  # the next run can connect at once (see gitlab/facts.py)
        session.facts().remember_project(path, proj["path_with_namespace"])
    path = proj["path_with_namespace"]
    if ref is None:
        if pick is None:
            raise UsageError("no JOB given", "pass a job id or URL (see `jobterm jobs`)")
        ref = JobRef(pick(gl, path))
    job = gl.job(path, ref.job_id)
    if query.wait:
        job = wait_until_running(gl, path, job, query.wait_timeout, tick)
    check_can_open(gl, job, proj)
    target = terminal_target(session, ws_url_for(job["web_url"], gl.host), int(job["id"]))
    return ResolvedJob(session, path, int(job["id"]), target, job, checked=True)


def diagnose(resolved: ResolvedJob, refused: JobtermError) -> JobtermError:
    """Why the handshake was refused, from the REST API: the pre-checks' precise error (or a
    REST error such as 'job 9 not found'); `refused` itself when they all pass."""
    gl = resolved.session.gitlab(need_web_session=True)  # an expired session says so here
    facts, project_id = resolved.session.facts(), resolved.project_id
    if project_id is not None:  # the remembered path may be stale: ask by id
        facts.forget_project(project_id)
    proj = gl.project(project_id or resolved.project)
    resolved.project = proj["path_with_namespace"]
    if project_id is not None:
        facts.remember_project(project_id, resolved.project)
    resolved.job = gl.job(resolved.project, resolved.job_id)
    check_can_open(gl, resolved.job, proj)
    resolved.checked = True
    return refused


def refused(resolved: ResolvedJob, exc: HandshakeSignedOut | HandshakeNotFound) -> None:
    """The handshake was refused: raise what REST says is wrong, or return when the session
    was renewed and the connection deserves one more try."""
    if resolved.checked:
        raise exc
    if isinstance(exc, HandshakeNotFound):
        remembered = resolved.project_id is not None and resolved.job is None
        error = diagnose(resolved, exc)
        if not remembered:
            raise error from None
        assert resolved.job is not None  # a remembered path may have moved: try the REST one
        resolved.target.ws_url = ws_url_for(resolved.job["web_url"], resolved.session.host)
        return
    diagnose(resolved, exc)  # renews the session, or raises 'session expired'
    resolved.target.cookie_header = resolved.session.cookie_header()


def with_diagnosis(resolved: ResolvedJob, connect_and_run: Callable[[], T]) -> T:
    """Run `connect_and_run` (which opens `resolved.target`); when the handshake is refused,
    raise what REST says is wrong, after one more try if the session could be renewed."""
    try:
        return connect_and_run()
    except (HandshakeSignedOut, HandshakeNotFound) as exc:
        refused(resolved, exc)
    return connect_and_run()


async def with_diagnosis_async(
    resolved: ResolvedJob, connect_and_run: Callable[[], Awaitable[T]]
) -> T:
    """`with_diagnosis` inside an event loop (the REST look-ups run in a thread)."""
    import asyncio

    try:
        return await connect_and_run()
    except (HandshakeSignedOut, HandshakeNotFound) as exc:
        await asyncio.to_thread(refused, resolved, exc)
    return await connect_and_run()
