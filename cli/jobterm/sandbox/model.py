"""The sandbox's records: users, runners, projects, pipelines, jobs, sessions, settings.

Plain dataclasses; `state.py` holds them together and re-exports every name here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SESSION_COOKIE = "_gitlab_session"
REMEMBER_COOKIE = "remember_user_token"
KNOWN_SIGN_IN_COOKIE = "known_sign_in"

FINISHED = frozenset({"success", "failed", "canceled", "skipped"})
ACTIVE = frozenset({"created", "pending", "running", "waiting_for_resource", "preparing"})
JOB_SCOPES = frozenset(
    {
        "created",
        "pending",
        "running",
        "failed",
        "success",
        "canceled",
        "skipped",
        "waiting_for_resource",
        "manual",
    }
)


def new_token(prefix: str = "", nbytes: int = 15) -> str:
    """A random URL-safe secret, e.g. new_token("glpat-") for a personal access token."""
    return prefix + secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "y")


@dataclass
class User:
    id: int
    username: str
    password: str
    name: str = ""
    email: str = ""
    token: str = field(default_factory=lambda: new_token("glpat-"))
    totp_secret: str | None = None  # base32; set = two-factor sign-in
    recovery_codes: list[str] = field(default_factory=list)  # each usable once
    email_verification: bool = False  # sign-in asks for an emailed code
    verification_code: str = field(default_factory=lambda: f"{secrets.randbelow(10**6):06d}")
    ldap: bool = False  # signs in at /users/auth/ldapmain/callback only
    admin: bool = False
    failed_attempts: int = 0
    locked: bool = False
    locked_at: float | None = None  # set when failed sign-ins locked it (it then unlocks itself)
    state: str = "active"  # "active" or "blocked"

    def __post_init__(self) -> None:
        self.name = self.name or self.username.capitalize()
        self.email = self.email or f"{self.username}@example.com"


@dataclass
class Runner:
    id: int
    description: str
    runner_type: str = "project_type"  # project_type | group_type | instance_type
    is_shared: bool = False
    session_server: bool = True  # registered a [session_server]: jobs can have a terminal
    # What a terminal's shell gets and when it ends (executors.py): "shell" and "kubernetes"
    # hold a job for an attached terminal when its script ends; with "docker" the terminal
    # ends with the build container, when the script ends.
    executor: str = "shell"


@dataclass
class Project:
    id: int
    path_with_namespace: str  # "group/sub/project": subgroups allowed
    name: str = ""
    archived: bool = False
    members: list[str] = field(default_factory=list)  # usernames (developer or more)
    # The project's CI/CD variables (Settings > CI/CD), masked or not: every job's script has
    # them; the runner sends them as non-public, so a kubernetes pod's env leaves them out.
    variables: dict[str, str] = field(default_factory=dict)
    default_branch: str = "main"
    created_at: float = 0.0

    def __post_init__(self) -> None:
        self.name = self.name or self.path_with_namespace.rsplit("/", 1)[-1]


@dataclass
class Pipeline:
    id: int
    project_id: int
    ref: str = "main"
    user: str = ""  # username of who triggered it
    sha: str = field(default_factory=lambda: secrets.token_hex(20))
    source: str = "push"
    created_at: float = 0.0
    stages: list[str] = field(default_factory=list)  # in order; [] = as its jobs name them


@dataclass
class Job:
    id: int
    project_id: int
    pipeline_id: int
    name: str
    stage: str = "test"
    ref: str = "main"
    status: str = "running"
    user: str = "demo"  # username of the job's user (who triggered or played it)
    runner_id: int | None = 1
    shell: list[str] = field(default_factory=lambda: ["bash", "-l"])  # argv of a terminal shell
    script_seconds: float | None = 3600.0  # how long the script runs once running; None = ever
    pending_seconds: float | None = None  # how long it stays pending; None = until told
    script_result: str = "success"  # the status the job gets when its script ends
    # Commands the sandbox really runs (in order, `set -e`) when the job runs; None = a
    # script that only takes script_seconds and ends with script_result.
    script: list[str] | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    build_dir: str = ""  # "" = the executor's own (executors.py), chosen when the job starts
    variables: dict[str, str] = field(default_factory=dict)  # extra CI_* style variables
    allow_failure: bool = False
    # `artifacts:` in its definition: the runner then uploads them after the script, in a
    # section named for the script's result (upload_artifacts_on_success/_on_failure).
    artifacts: bool = False
    git_strategy: str = "fetch"  # GIT_STRATEGY: "none" fetches nothing (the log names no dir)
    retried_from: int | None = None
    # Runtime, owned by the terminal side (workhorse.py / job life):
    terminal: Any = None  # the attached terminal connection, if any (one per job)
    held_for_terminal: bool = False  # script ended, job waits for the terminal to detach
    script_ended_at: float | None = None
    exit_code: int | None = None  # the script's exit status, once it ended
    trace: bytearray = field(default_factory=bytearray)  # the job log, as the runner wrote it


@dataclass
class Session:
    """A server-side web session (`_gitlab_session` cookie value = `id`)."""

    id: str
    csrf_token: str
    created_at: float
    last_seen: float
    user: str | None = None  # signed-in username
    # Half-way through a sign-in: the password was right, a second step is due.
    pending_user: str | None = None
    pending_step: str | None = None  # "otp" | "verification"
    pending_remember: bool = False
    flash: str | None = None  # shown once on the next sign-in page


@dataclass
class RememberToken:
    token: str
    user: str
    expires_at: float


@dataclass
class Fault:
    """A failure the REST API injects, for testing clients.

    kind: "server_error" (status, default 500), "rate_limit" (429 + Retry-After), "html"
    (200 with an HTML page instead of JSON), "sign_in_redirect" (302 to /users/sign_in),
    "reset" (the connection is reset without an answer, as a restarting proxy does),
    "trickle" (a 200 whose body comes a byte at a time and does not end).
    Applies to requests whose path starts with `path` (and whose method is `method`, when
    set); `times` = how many, None = all.
    """

    kind: str
    path: str = "/api/v4/"
    times: int | None = None
    status: int = 500
    retry_after: int = 1
    method: str | None = None
    message: str | None = None  # server_error: the JSON body's message (else GitLab's own)


FAULT_KINDS = frozenset(
    {"server_error", "rate_limit", "html", "sign_in_redirect", "bot_challenge", "reset", "trickle"}
)


@dataclass
class Settings:
    session_expire_delay: float = 7 * 24 * 3600.0  # server-side session life, sliding
    remember_me_duration: float = 14 * 24 * 3600.0
    known_sign_in_duration: float = 14 * 24 * 3600.0
    session_timeout: float = 1800.0  # runner [session_server] session_timeout
    retry_pending_seconds: float = 1.0  # a retried job waits this long for a runner
    prepare_seconds: float = 1.0  # a running job's runner prepares this long before its script
    terminal_ready_after: float = 0.0  # a job's terminal answers 404 this long after it starts
    ping_interval: float = 30.0  # WebSocket Ping period of the terminal
    reauthorize_interval: float = 300.0  # Workhorse re-checks a terminal's authorization
    password_authentication_enabled: bool = True
    remember_me_enabled: bool = True
    pipelines_api: bool = True  # False: /api/v4/pipelines answers 404 like older GitLab
    lockout_threshold: int = 10
    unlock_after: float = 600.0  # Devise's unlock_in: a lockout ends by itself 10 min later
    email_verification_lockout_threshold: int = 3
    session_cookie_suffix: str = ""  # development/Geo instances: "_gitlab_session_<suffix>"
    signin_style: str = "classic"  # "gitlab18": sign-in pages as GitLab 18 renders them
    broadcast_message: str = ""  # an admin broadcast banner on the sign-in pages
    signup_enabled: bool = False  # classic style: the registration form beside sign-in
    faults: list[Fault] = field(default_factory=list)

    @property
    def session_cookie(self) -> str:
        return SESSION_COOKIE + (
            f"_{self.session_cookie_suffix}" if self.session_cookie_suffix else ""
        )


@dataclass
class CookieAuth:
    """Who a request's cookies belong to. `renewed`: a new session was made from a
    remember-me token, so the response must set the session cookie to `session.id`."""

    user: User | None
    session: Session | None
    renewed: bool = False


RevokeHook = Callable[[str, frozenset[str]], None]  # (username, session ids that died)
JobHook = Callable[[Job], None]


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret from a request with ours. Header bytes that are
    not UTF-8 arrive as surrogates: encoded as they are, they just do not match."""
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def is_number(text: str) -> bool:
    """ASCII digits only ("²".isdigit() is true, and int() refuses it)."""
    return text.isascii() and text.isdigit()


def parse_id(text: str) -> int:
    """A record id from a URL; -1 (no record) when it is no number or past a bigint (and
    past int()'s digit limit), as an out-of-range id finds nothing in GitLab."""
    return int(text) if is_number(text) and len(text) <= 19 else -1
