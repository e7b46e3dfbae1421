"""The sandbox's default world and its TOML config file.

A config file changes the defaults; it does not have to repeat them:

* `[settings]` keys override single settings; `[[settings.faults]]` adds REST faults;
* each `[[users]]`, `[[runners]]`, `[[projects]]`, `[[jobs]]` entry updates the default with
  the same key (username, id, id or path, id) or adds a new one;
* `defaults = false` at the top starts from an empty world instead.

`format_help.FORMAT_HELP` (shown by `jobterm sandbox --help` and README) lists every key.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import secrets
import sys
from pathlib import Path
from typing import Any

from jobterm.errors import ConfigError
from jobterm.files import BadText, read_text
from jobterm.sandbox.state import (
    FAULT_KINDS,
    Fault,
    Job,
    Pipeline,
    Project,
    Runner,
    SandboxState,
    Settings,
    User,
    new_token,
)


def load_config(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data: dict[str, Any] = tomllib.loads(read_text(path))
        return data
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "check the --config path") from exc
    except BadText as exc:
        raise ConfigError(f"{path}: {exc}", "save it as UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the file") from exc


def build_state(config: dict[str, Any] | None = None, now: float = 0.0) -> SandboxState:
    """The state a sandbox starts with: defaults (unless `defaults = false`) plus config."""
    config = dict(config or {})
    state = SandboxState(_settings(config.pop("settings", {})))
    if config.pop("defaults", True):
        add_defaults(state, now)
    for user in _entries(config, "users"):
        _merge_user(state, user)
    for runner in _entries(config, "runners"):
        _merge_runner(state, runner)
    for project in _entries(config, "projects"):
        _merge_project(state, project, now)
    for job in _entries(config, "jobs"):
        _merge_job(state, job, now)
    if config:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(config))}", _HINT)
    return state


_HINT = "see `jobterm sandbox --help` for the config format"


def _entries(config: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = config.pop(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"config: {key} must be a list of tables ([[{key}]])", _HINT)
    return [dict(v) for v in value]


def _apply(obj: Any, values: dict[str, Any], what: str) -> None:
    """Set dataclass fields from config values, refusing unknown keys and wrong types."""
    fields = {f.name: f for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    for key, value in values.items():
        if key not in fields or key in _RUNTIME:
            raise ConfigError(f"config: unknown key {key!r} in {what}", _HINT)
        current = getattr(obj, key)
        if current is not None and value is not None and not _same_kind(current, value):
            raise ConfigError(f"config: {what}.{key} has the wrong type", _HINT)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and not (math.isfinite(value) and value >= 0):
            # TOML has nan and inf; no count, id or duration of the sandbox can be one.
            raise ConfigError(f"config: {what}.{key} must be a number >= 0, not {value}", _HINT)
        setattr(obj, key, value)


_RUNTIME = frozenset({"terminal", "held_for_terminal", "script_ended_at", "exit_code", "trace"})
EXECUTORS = frozenset({"shell", "docker", "kubernetes"})


def _same_kind(current: Any, value: Any) -> bool:
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(current))


def _settings(values: Any) -> Settings:
    if not isinstance(values, dict):
        raise ConfigError("config: [settings] must be a table", _HINT)
    values = dict(values)
    settings = Settings()
    for fault in values.pop("faults", []):
        settings.faults.append(make_fault(fault))
    _apply(settings, values, "settings")
    if settings.signin_style not in SIGNIN_STYLES:
        raise ConfigError(f"config: signin_style must be one of {', '.join(SIGNIN_STYLES)}", _HINT)
    return settings


SIGNIN_STYLES = ("classic", "gitlab18")


def make_fault(values: Any) -> Fault:
    if not isinstance(values, dict) or values.get("kind") not in FAULT_KINDS:
        kinds = ", ".join(sorted(FAULT_KINDS))
        raise ConfigError(f"config: a fault needs kind = one of {kinds}", _HINT)
    fault = Fault(kind=values["kind"])
    _apply(fault, {k: v for k, v in values.items() if k != "kind"}, "fault")
    times_ok = fault.times is None or (type(fault.times) is int and fault.times >= 0)
    if not times_ok or type(fault.status) is not int or not 400 <= fault.status <= 599:
        raise ConfigError("config: a fault's times must be >= 0 and status 400-599", _HINT)
    if not all(isinstance(v, (str, type(None))) for v in (fault.method, fault.message)):
        raise ConfigError("config: a fault's method and message are strings", _HINT)
    if type(fault.retry_after) is not int or not fault.path.startswith("/"):
        raise ConfigError("config: a fault's retry_after is whole seconds, path starts /", _HINT)
    return fault


def _merge_user(state: SandboxState, values: dict[str, Any]) -> None:
    username = values.get("username")
    if not isinstance(username, str) or not username:
        raise ConfigError("config: every [[users]] entry needs a username", _HINT)
    user = state.user(username)
    if user is None:
        if not isinstance(values.get("password"), str):
            raise ConfigError(f"config: new user {username!r} needs a password", _HINT)
        user = state.add_user(
            User(
                id=state.next_id((u.id for u in state.users.values()), 0),
                username=username,
                password=values["password"],
            )
        )
    _apply(user, values, f"users.{username}")
    user.__post_init__()


def _merge_runner(state: SandboxState, values: dict[str, Any]) -> None:
    runner_id = values.get("id", state.next_id(state.runners, 0))
    runner = state.runners.get(runner_id) or Runner(id=runner_id, description=f"runner {runner_id}")
    state.runners[runner_id] = runner
    _apply(runner, values, f"runners.{runner_id}")
    if runner.executor not in EXECUTORS:
        kinds = ", ".join(sorted(EXECUTORS))
        raise ConfigError(f"config: runner {runner_id}: executor must be one of {kinds}", _HINT)


def _merge_project(state: SandboxState, values: dict[str, Any], now: float) -> None:
    path = values.pop("path", None)
    if path is not None:
        values["path_with_namespace"] = path
    found = state.find_project(values["id"]) if "id" in values else None
    if found is None and path is not None:
        found = state.find_project(path)
    if found is None:
        if not isinstance(path, str) or "/" not in path.strip("/"):
            raise ConfigError(
                'config: a new [[projects]] entry needs path = "group/project"', _HINT
            )
        found = Project(
            id=values.get("id", state.next_id(state.projects, 0)),
            path_with_namespace=path,
            created_at=now,
        )
        state.projects[found.id] = found
    _apply(found, values, f"projects.{found.path_with_namespace}")
    found.path_with_namespace = found.path_with_namespace.strip("/")


def _merge_job(state: SandboxState, values: dict[str, Any], now: float) -> None:
    values = {k: (None if v == "forever" else v) for k, v in values.items()}
    job = state.jobs.get(values["id"]) if "id" in values else None
    project_ref = values.pop("project", None)
    project = state.find_project(project_ref) if project_ref is not None else None
    if project_ref is not None and project is None:
        raise ConfigError(f"config: job refers to unknown project {project_ref!r}", _HINT)
    if "runner" in values:
        values["runner_id"] = values.pop("runner")
    pipeline_id = values.pop("pipeline", None)
    if job is None:
        project = project or next(iter(state.projects.values()), None)
        if project is None or "name" not in values:
            raise ConfigError("config: a new [[jobs]] entry needs a name and a project", _HINT)
        job = Job(
            id=values.pop("id", state.next_id(state.jobs, 100)),
            project_id=project.id,
            pipeline_id=0,
            name=values["name"],
            created_at=now - 60,
        )
        state.jobs[job.id] = job
    elif project is not None:
        job.project_id = project.id
    _apply(job, values, f"jobs.{job.id}")
    _check_job(state, job)
    job.pipeline_id = _pipeline_for(state, job, pipeline_id, now)
    _fix_timestamps(job, now)


def add_job(state: SandboxState, values: dict[str, Any], now: float) -> None:
    """A [[jobs]] entry added to a running sandbox (a new pipeline's jobs)."""
    _merge_job(state, dict(values), now)


def _check_job(state: SandboxState, job: Job) -> None:
    if job.user not in state.users:
        raise ConfigError(f"config: job {job.id} belongs to unknown user {job.user!r}", _HINT)
    if job.runner_id is not None and job.runner_id not in state.runners:
        raise ConfigError(f"config: job {job.id} uses unknown runner {job.runner_id}", _HINT)
    if not job.shell or not all(isinstance(a, str) for a in job.shell):
        raise ConfigError(f"config: job {job.id}: shell must be a list of strings", _HINT)
    script = job.script
    if script is not None and not (
        isinstance(script, list) and all(isinstance(c, str) for c in script)
    ):
        raise ConfigError(f"config: job {job.id}: script must be a list of strings", _HINT)


def _pipeline_for(state: SandboxState, job: Job, pipeline_id: int | None, now: float) -> int:
    if pipeline_id is None and job.pipeline_id in state.pipelines:
        pipeline_id = job.pipeline_id
    if pipeline_id is None:
        pipeline_id = state.next_id(state.pipelines, 1000)
    if pipeline_id not in state.pipelines:
        state.pipelines[pipeline_id] = Pipeline(
            id=pipeline_id,
            project_id=job.project_id,
            ref=job.ref,
            user=job.user,
            created_at=job.created_at or now,
        )
    return pipeline_id


def _fix_timestamps(job: Job, now: float) -> None:
    """Make timestamps agree with the status the config gave."""
    if job.status in ("created", "pending"):
        job.started_at = job.finished_at = None
        return
    job.started_at = job.started_at if job.started_at is not None else now - 30
    if job.status in ("success", "failed", "canceled", "skipped"):
        job.finished_at = job.finished_at if job.finished_at is not None else now - 5
    else:
        job.finished_at = None


# What the failed default job runs again when retried (`jobterm debug 106`): it leaves a
# report behind and fails, so a shell in the held job has something to look at.
E2E_SCRIPT = [
    "mkdir -p reports",
    'echo \'<testsuite name="e2e" failures="1"/>\' > reports/e2e.xml',
    "echo 'e2e: checkout flow: expected 200, got 502' >&2",
    "grep -q 'failures=\"0\"' reports/e2e.xml",
]

# The default jobs (project 1 unless said): see README for what each one is for.
DEFAULT_JOBS: tuple[dict[str, Any], ...] = (
    {"id": 101, "name": "build", "stage": "build", "pipeline": 1001},
    {"id": 102, "name": "test:dash", "pipeline": 1001, "shell": ["dash"]},
    {"id": 103, "name": "deploy", "stage": "deploy", "user": "bob", "pipeline": 1002},
    {"id": 104, "name": "lint", "status": "pending", "pipeline": 1003},
    {"id": 105, "name": "unit", "status": "success", "pipeline": 1004},
    {"id": 106, "name": "e2e", "status": "failed", "pipeline": 1004, "script": E2E_SCRIPT},
    {"id": 107, "name": "package", "runner": 2, "pipeline": 1005},
    {"id": 108, "name": "shared", "runner": 3, "pipeline": 1005},
    {"id": 109, "name": "alice:build", "stage": "build", "user": "alice", "pipeline": 1006},
    {"id": 201, "name": "cli:build", "stage": "build", "project": 2, "pipeline": 2001},
    {"id": 301, "name": "legacy:build", "stage": "build", "project": 3, "pipeline": 3001},
)


def add_defaults(state: SandboxState, now: float) -> None:
    """The default world: see README ("The sandbox instance") for what each piece is for."""
    for user in (
        User(1, "demo", "demo-password", name="Demo User"),
        User(
            2,
            "alice",
            "alice-password",
            name="Alice Two-Factor",
            totp_secret=_totp_secret(),
            recovery_codes=[secrets.token_hex(8) for _ in range(10)],
        ),
        User(3, "erin", "erin-password", name="Erin Verify", email_verification=True),
        User(4, "lee", "lee-password", name="Lee Directory", ldap=True),
        User(5, "bob", "bob-password", name="Bob Other"),
    ):
        state.add_user(user)
    for runner in (
        Runner(1, "shell-runner (session server)"),
        Runner(2, "shell-runner (no session server)", session_server=False),
        Runner(
            3,
            "shared instance runner (no terminal)",
            "instance_type",
            is_shared=True,
            session_server=False,
        ),
    ):
        state.runners[runner.id] = runner
    everyone = ["demo", "alice", "erin", "lee", "bob"]
    for project in (
        Project(
            1,
            "demo/webapp",
            members=everyone,
            created_at=now - 86400,
            variables={"APP_ENV": "staging", "DEPLOY_TOKEN": new_token("dpl-")},
        ),
        Project(2, "demo/tools/cli", members=["demo", "alice", "lee"], created_at=now - 86400),
        Project(3, "demo/legacy", archived=True, members=["demo"], created_at=now - 86400),
    ):
        state.projects[project.id] = project
    for job in DEFAULT_JOBS:
        _merge_job(state, {"project": 1, **copy.deepcopy(job)}, now)


def _totp_secret() -> str:
    import base64

    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")
