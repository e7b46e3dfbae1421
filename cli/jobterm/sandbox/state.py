"""The sandbox instance's data: users, runners, projects, pipelines, jobs, sessions, settings.

Pure data and lookups, no I/O and no clock: every method that depends on time takes `now`
(seconds since the epoch) from its caller, so tests drive time by hand. The web layer
(`rails.py`, `workhorse.py`) passes `state.clock()`.

Who changes what:
* sign-in and REST (rails.py, signin.py, rest.py) create and end sessions, renew them from
  remember-me tokens, and cancel/retry jobs;
* the job life (the terminal side) moves jobs pending -> running -> success/failed/canceled,
  through `set_job_status`, so every change reaches the `on_job_change` subscribers;
* `revoke_sessions`/`sign_out` tell the `on_revoke` subscribers which sessions died, so open
  terminals of those sessions can be dropped (Workhorse's re-authorization does the same).

Defaults and the TOML config file are in `config.py`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol
from urllib.parse import unquote

from jobterm.sandbox.model import (
    ACTIVE,
    FAULT_KINDS,
    FINISHED,
    JOB_SCOPES,
    KNOWN_SIGN_IN_COOKIE,
    REMEMBER_COOKIE,
    SESSION_COOKIE,
    CookieAuth,
    Fault,
    Job,
    JobHook,
    Pipeline,
    Project,
    RememberToken,
    RevokeHook,
    Runner,
    Session,
    Settings,
    User,
    is_number,
    new_token,
    parse_id,
    same_secret,
)

MAX_SESSIONS = 10_000  # past this, new_session prunes old ones first

__all__ = [
    "ACTIVE",
    "FAULT_KINDS",
    "FINISHED",
    "JOB_SCOPES",
    "KNOWN_SIGN_IN_COOKIE",
    "REMEMBER_COOKIE",
    "SESSION_COOKIE",
    "CookieAuth",
    "Fault",
    "ImmediateJobLife",
    "Job",
    "JobHook",
    "JobLife",
    "Pipeline",
    "Project",
    "RememberToken",
    "RevokeHook",
    "Runner",
    "SandboxState",
    "Session",
    "Settings",
    "User",
    "new_token",
]


class JobLife(Protocol):
    """Moves jobs through their life. The terminal side replaces the default with timers."""

    def start(self, job: Job, now: float) -> None:
        """pending -> running now."""

    def end_script(self, job: Job, now: float, status: str | None = None) -> None:
        """The script ends now (with `status`, default job.script_result); an attached
        terminal holds the job until it detaches or session_timeout passes."""

    def finish(self, job: Job, status: str, now: float) -> None:
        """Force a final status now (drops any terminal)."""


class ImmediateJobLife:
    """JobLife without timers or terminals: each step takes effect at once."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def start(self, job: Job, now: float) -> None:
        self.state.set_job_status(job, "running", now)

    def end_script(self, job: Job, now: float, status: str | None = None) -> None:
        job.script_ended_at = now
        self.state.set_job_status(job, status or job.script_result, now)

    def finish(self, job: Job, status: str, now: float) -> None:
        self.state.set_job_status(job, status, now)


def _first(value: float | None, default: float) -> float:
    return default if value is None else value


class SandboxState:
    """Everything the instance knows. Lookups take plain values and `now`; no I/O."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.users: dict[str, User] = {}
        self.runners: dict[int, Runner] = {}
        self.projects: dict[int, Project] = {}
        self.pipelines: dict[int, Pipeline] = {}
        self.jobs: dict[int, Job] = {}
        self.sessions: dict[str, Session] = {}
        self.remember_tokens: dict[str, RememberToken] = {}
        self.admin_token = new_token("sandbox-admin-")
        #: the requests clients made, oldest first (method, path, WebSocket upgrade or not)
        self.journal: list[dict[str, object]] = []
        self.base_url = "http://127.0.0.1"  # set once the server is bound
        self.clock: Callable[[], float] = time.time
        self.life: JobLife = ImmediateJobLife(self)
        self._revoke_hooks: list[RevokeHook] = []
        self._job_hooks: list[JobHook] = []

    # -- users -----------------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        self.users[user.username] = user
        return user

    def user(self, username: str) -> User | None:
        return self.users.get(username)

    def user_by_login(self, login: str) -> User | None:
        """A sign-in login is a username or an email address (case-insensitive)."""
        wanted = login.strip().lower()
        for user in self.users.values():
            if wanted in (user.username.lower(), user.email.lower()):
                return user
        return None

    def user_by_token(self, token: str) -> User | None:
        if not token:
            return None
        for user in self.users.values():
            if same_secret(token, user.token) and user.state == "active":
                return user
        return None

    def lockout_threshold(self, user: User) -> int:
        s = self.settings
        return (
            s.email_verification_lockout_threshold
            if user.email_verification
            else s.lockout_threshold
        )

    def record_failed_attempt(self, user: User, now: float) -> None:
        user.failed_attempts += 1
        if user.failed_attempts >= self.lockout_threshold(user):
            user.locked, user.locked_at = True, now

    def is_locked(self, user: User, now: float) -> bool:
        """Locked by failed sign-ins: until `unlock_after` has passed (Devise's :time unlock
        strategy). Locked by the config or the admin (no locked_at): until unlocked."""
        unlock_at = None if user.locked_at is None else user.locked_at + self.settings.unlock_after
        if user.locked and unlock_at is not None and now >= unlock_at:
            user.locked, user.locked_at, user.failed_attempts = False, None, 0
        return user.locked

    # -- sessions ----------------------------------------------------------------------------

    def new_session(self, now: float, user: str | None = None) -> Session:
        if len(self.sessions) >= MAX_SESSIONS:
            self._prune_sessions(now)
        session = Session(
            id=secrets.token_hex(16),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            user=user,
        )
        self.sessions[session.id] = session
        return session

    def _prune_sessions(self, now: float) -> None:
        """Drop expired sessions and visitors' sessions unused for an hour, so a client that
        never keeps cookies (a benchmark, a scanner) cannot grow memory without bound."""
        delay = self.settings.session_expire_delay
        for session in list(self.sessions.values()):
            idle = now - session.last_seen
            if idle > delay or (session.user is None and idle > 3600):
                del self.sessions[session.id]

    def session(self, session_id: str | None, now: float) -> Session | None:
        """The live session with this id, touched (expiry slides); None if unknown or expired."""
        session = self.sessions.get(session_id or "")
        if session is None:
            return None
        if now - session.last_seen > self.settings.session_expire_delay:
            del self.sessions[session.id]
            return None
        session.last_seen = now
        return session

    def session_cookie_value(self, cookies: Mapping[str, str]) -> str | None:
        return cookies.get(self.settings.session_cookie)

    def authenticate_cookies(self, cookies: Mapping[str, str], now: float) -> CookieAuth:
        """The signed-in user of a request, renewing an expired session from remember-me."""
        session = self.session(self.session_cookie_value(cookies), now)
        if session is not None and session.user is not None:
            user = self.users.get(session.user)
            if user is not None and user.state == "active" and not self.is_locked(user, now):
                return CookieAuth(user, session)
        remember = self.remember_tokens.get(cookies.get(REMEMBER_COOKIE, ""))
        if remember is None or not self.settings.remember_me_enabled:
            return CookieAuth(None, session)
        if remember.expires_at < now:
            del self.remember_tokens[remember.token]
            return CookieAuth(None, session)
        user = self.users.get(remember.user)
        if user is None or user.state != "active" or self.is_locked(user, now):
            return CookieAuth(None, session)
        remember.expires_at = now + self.settings.remember_me_duration  # extended on use
        return CookieAuth(user, self.new_session(now, user.username), renewed=True)

    def user_by_session_cookie(self, cookies: Mapping[str, str], now: float) -> User | None:
        return self.authenticate_cookies(cookies, now).user

    def sign_in(
        self, old: Session | None, user: User, remember: bool, now: float
    ) -> tuple[Session, str | None]:
        """Start a signed-in session (a new id and CSRF token, as Rails rotates them) and,
        when asked and allowed, a remember-me token. Returns (session, remember token)."""
        if old is not None:
            self.sessions.pop(old.id, None)
        user.failed_attempts = 0
        session = self.new_session(now, user.username)
        token = None
        if remember and self.settings.remember_me_enabled:
            token = secrets.token_urlsafe(24)
            expires = now + self.settings.remember_me_duration
            self.remember_tokens[token] = RememberToken(token, user.username, expires)
        return session, token

    def sign_out(self, session: Session) -> None:
        """End one session; signing out anywhere revokes the user's remember-me tokens."""
        self.sessions.pop(session.id, None)
        if session.user is not None:
            self._drop_remember_tokens(session.user)
            self._notify_revoke(session.user, frozenset({session.id}))

    def revoke_sessions(self, user: User, *, remember_tokens: bool = True) -> frozenset[str]:
        """End every session of `user` (e.g. the admin expired them). With remember_tokens
        False, a remember-me cookie can still renew the session (to test renewal)."""
        dead = frozenset(s.id for s in self.sessions.values() if s.user == user.username)
        for session_id in dead:
            del self.sessions[session_id]
        if remember_tokens:
            self._drop_remember_tokens(user.username)
        self._notify_revoke(user.username, dead)
        return dead

    def on_revoke(self, hook: RevokeHook) -> None:
        """Call hook(username, session_ids) whenever sessions end by sign-out or revocation."""
        self._revoke_hooks.append(hook)

    def _drop_remember_tokens(self, username: str) -> None:
        for token in [t for t, r in self.remember_tokens.items() if r.user == username]:
            del self.remember_tokens[token]

    def _notify_revoke(self, username: str, session_ids: frozenset[str]) -> None:
        for hook in list(self._revoke_hooks):
            hook(username, session_ids)

    # -- projects, pipelines, jobs -----------------------------------------------------------

    def find_project(self, id_or_path: str | int) -> Project | None:
        """By numeric id or full path ("group/sub/project", URL-encoded or not)."""
        if isinstance(id_or_path, int):
            return self.projects.get(id_or_path)
        if is_number(id_or_path):
            return self.projects.get(parse_id(id_or_path))
        path = unquote(str(id_or_path)).strip("/").lower()
        return next(
            (p for p in self.projects.values() if p.path_with_namespace.lower() == path), None
        )

    def is_member(self, user: User | None, project: Project) -> bool:
        return user is not None and (user.admin or user.username in project.members)

    def visible_projects(self, user: User | None) -> list[Project]:
        return sorted(
            (p for p in self.projects.values() if self.is_member(user, p)), key=lambda p: -p.id
        )

    def find_job(self, project: Project, job_id: int | str) -> Job | None:
        job = self.jobs.get(job_id if isinstance(job_id, int) else parse_id(job_id))
        return job if job is not None and job.project_id == project.id else None

    def jobs_of(self, project: Project) -> list[Job]:
        return sorted(
            (j for j in self.jobs.values() if j.project_id == project.id), key=lambda j: -j.id
        )

    def jobs_of_pipeline(self, pipeline: Pipeline) -> list[Job]:
        return sorted(
            (j for j in self.jobs.values() if j.pipeline_id == pipeline.id), key=lambda j: j.id
        )

    def project_of(self, job: Job) -> Project:
        return self.projects[job.project_id]

    def job_web_url(self, job: Job) -> str:
        return f"{self.base_url}/{self.project_of(job).path_with_namespace}/-/jobs/{job.id}"

    def pipeline_status(self, pipeline: Pipeline) -> str:
        """Derived from its jobs (the latest try of each), roughly as GitLab composes it."""
        latest: dict[str, Job] = {}
        for job in self.jobs_of_pipeline(pipeline):
            latest[job.name] = job  # ascending ids: a retry replaces the try it retried
        statuses = {
            j.status for j in latest.values() if not (j.allow_failure and j.status == "failed")
        }
        for status in ("running", "pending", "created", "failed", "canceled", "success"):
            if status in statuses:
                return status
        return "skipped" if latest else "created"

    def runner_of(self, job: Job) -> Runner | None:
        return self.runners.get(job.runner_id) if job.runner_id is not None else None

    def terminal_denial(self, user: User | None, job: Job) -> str | None:
        """Why `user` may not open the job's terminal (None: allowed). GitLab answers all of
        these with the same 404; the reason is for logs and the control API."""
        project = self.project_of(job)
        runner = self.runner_of(job)
        if user is None:
            return "not signed in"
        if not self.is_member(user, project):
            return "not a member of the project"
        if project.archived:
            return "project archived"
        if job.user != user.username:
            return "not the job's user"
        if job.status != "running" and not job.held_for_terminal:
            return f"job is {job.status}"
        if runner is None or not runner.session_server:
            return "runner has no session server"
        return None

    def next_id(self, table: Iterable[int], floor: int) -> int:
        return max([floor, *table]) + 1

    def set_job_status(self, job: Job, status: str, now: float) -> None:
        """The one way job statuses change, so subscribers (terminals) hear of it."""
        if job.status == status:
            return
        job.status = status
        if status == "running" and job.started_at is None:
            job.started_at = now
        if status in FINISHED:
            job.finished_at = now
            job.held_for_terminal = False
        for hook in list(self._job_hooks):
            hook(job)

    def on_job_change(self, hook: JobHook) -> None:
        self._job_hooks.append(hook)

    def retry_job(self, job: Job, user: User, now: float) -> Job:
        """A new pending job like `job`, triggered by `user`, in the same pipeline."""
        clone = Job(
            id=self.next_id(self.jobs, 100),
            project_id=job.project_id,
            pipeline_id=job.pipeline_id,
            name=job.name,
            stage=job.stage,
            ref=job.ref,
            status="pending",
            user=user.username,
            runner_id=job.runner_id,
            shell=list(job.shell),
            script_seconds=job.script_seconds,
            # A runner picks a retried job up after a moment, unless the job says otherwise.
            pending_seconds=_first(job.pending_seconds, self.settings.retry_pending_seconds),
            script_result=job.script_result,
            script=None if job.script is None else list(job.script),
            created_at=now,
            variables=dict(job.variables),
            retried_from=job.id,
        )
        self.jobs[clone.id] = clone
        for hook in list(self._job_hooks):
            hook(clone)
        return clone
