"""JSON shapes of GitLab's API entities (`lib/api/entities/`), built from sandbox state.

Pure functions: state and `now` in, dicts out. Only the fields clients use plus the usual
neighbours, so responses look like GitLab's to a script that prints them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from jobterm.sandbox.state import FINISHED, Job, Pipeline, Project, SandboxState, User


def iso(timestamp: float | None) -> str | None:
    """GitLab's timestamp format: 2026-11-22T10:37:40.123Z."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_basic(state: SandboxState, user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": user.state,
        "locked": user.locked,
        "avatar_url": None,
        "web_url": f"{state.base_url}/{user.username}",
    }


def user_full(state: SandboxState, user: User, now: float) -> dict[str, Any]:
    """`GET /api/v4/user`: the current user, with the private fields."""
    return {
        **user_basic(state, user),
        "created_at": iso(now - 30 * 86400),
        "bio": "",
        "location": "",
        "public_email": None,
        "email": user.email,
        "is_admin": user.admin,
        "two_factor_enabled": user.totp_secret is not None,
        "external": False,
        "private_profile": False,
        "identities": [{"provider": "ldapmain", "extern_uid": f"uid={user.username}"}]
        if user.ldap
        else [],
    }


def project(state: SandboxState, proj: Project, now: float) -> dict[str, Any]:
    namespace, _, path = proj.path_with_namespace.rpartition("/")
    web_url = f"{state.base_url}/{proj.path_with_namespace}"
    return {
        "id": proj.id,
        "description": None,
        "name": proj.name,
        "name_with_namespace": " / ".join(proj.path_with_namespace.split("/")),
        "path": path,
        "path_with_namespace": proj.path_with_namespace,
        "created_at": iso(proj.created_at),
        "default_branch": proj.default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@127.0.0.1:{proj.path_with_namespace}.git",
        "http_url_to_repo": f"{web_url}.git",
        "web_url": web_url,
        "readme_url": None,
        "avatar_url": None,
        "forks_count": 0,
        "star_count": 0,
        "last_activity_at": iso(now),
        "namespace": {
            "id": 1000 + proj.id,
            "name": namespace.rsplit("/", 1)[-1],
            "path": namespace.rsplit("/", 1)[-1],
            "kind": "group",
            "full_path": namespace,
            "parent_id": None,
            "avatar_url": None,
            "web_url": f"{state.base_url}/groups/{namespace}",
        },
        "archived": proj.archived,
        "visibility": "private",
        "jobs_enabled": True,
        "empty_repo": False,
    }


def pipeline_basic(state: SandboxState, pipe: Pipeline) -> dict[str, Any]:
    proj = state.projects[pipe.project_id]
    jobs = state.jobs_of_pipeline(pipe)
    updated = max([pipe.created_at, *(j.finished_at or j.started_at or 0 for j in jobs)])
    return {
        "id": pipe.id,
        "iid": pipe.id - 1000 if pipe.id > 1000 else pipe.id,
        "project_id": pipe.project_id,
        "sha": pipe.sha,
        "ref": pipe.ref,
        "status": state.pipeline_status(pipe),
        "source": pipe.source,
        "created_at": iso(pipe.created_at),
        "updated_at": iso(updated),
        "web_url": f"{state.base_url}/{proj.path_with_namespace}/-/pipelines/{pipe.id}",
    }


def job(state: SandboxState, item: Job, now: float) -> dict[str, Any]:
    """`Entities::Ci::Job`. Nothing here says whether a terminal is possible (as in GitLab)."""
    pipe = state.pipelines[item.pipeline_id]
    user = state.user(item.user)
    duration, queued = _durations(item, now)
    result: dict[str, Any] = {
        "id": item.id,
        "status": item.status,
        "stage": item.stage,
        "name": item.name,
        "ref": item.ref,
        "tag": False,
        "coverage": None,
        "allow_failure": item.allow_failure,
        "created_at": iso(item.created_at),
        "started_at": iso(item.started_at),
        "finished_at": iso(item.finished_at),
        "erased_at": None,
        "duration": duration,
        "queued_duration": queued,
        "user": user_basic(state, user) if user else None,
        "commit": _commit(pipe),
        "pipeline": pipeline_basic(state, pipe),
        "web_url": state.job_web_url(item),
        "project": {"ci_job_token_scope_enabled": False},
        "artifacts": [],
        "runner": runner(state, item),
        "artifacts_expire_at": None,
        "archived": False,
        "tag_list": [],
    }
    if item.status == "failed":
        result["failure_reason"] = "script_failure"
    return result


def _durations(item: Job, now: float) -> tuple[float | None, float | None]:
    """`duration` (run time so far) and `queued_duration` (time waited for a runner)."""
    if item.started_at is not None:
        duration = round((item.finished_at or now) - item.started_at, 3)
        return duration, round(item.started_at - item.created_at, 3)
    if item.status in ("pending", "created"):
        return None, round(now - item.created_at, 3)
    return None, None


def _commit(pipe: Pipeline) -> dict[str, Any]:
    return {
        "id": pipe.sha,
        "short_id": pipe.sha[:8],
        "title": "Update .gitlab-ci.yml",
        "created_at": iso(pipe.created_at),
    }


def runner(state: SandboxState, item: Job) -> dict[str, Any] | None:
    """The runner that picked the job up; none while it is still pending."""
    found = state.runner_of(item)
    if found is None or (item.status in ("pending", "created") and item.started_at is None):
        return None
    return {
        "id": found.id,
        "description": found.description,
        "ip_address": None,
        "active": True,
        "paused": False,
        "is_shared": found.is_shared,
        "runner_type": found.runner_type,
        "name": "gitlab-runner",
        "online": True,
        "status": "online",
    }


STATUS_TEXT = {
    "running": ("running", "status_running", "Running"),
    "pending": ("pending", "status_pending", "Pending"),
    "success": ("passed", "status_success", "Passed"),
    "failed": ("failed", "status_failed", "Failed"),
    "canceled": ("canceled", "status_canceled", "Canceled"),
    "created": ("created", "status_created", "Created"),
    "skipped": ("skipped", "status_skipped", "Skipped"),
}


def web_job(state: SandboxState, item: Job, viewer: User, now: float) -> dict[str, Any]:
    """`GET /<project>/-/jobs/<id>.json` (BuildDetailsEntity): `terminal_path` only when the
    viewer could open the job's terminal right now."""
    base = f"/{state.project_of(item).path_with_namespace}/-/jobs/{item.id}"
    text, icon, label = STATUS_TEXT.get(
        item.status, (item.status, "status_" + item.status, item.status)
    )
    result: dict[str, Any] = {
        "id": item.id,
        "name": item.name,
        "started": item.started_at is not None,
        "started_at": iso(item.started_at),
        "complete": item.status in FINISHED,
        "status": {
            "icon": icon,
            "text": text,
            "label": label.lower(),
            "group": item.status,
            "has_details": True,
            "details_path": base,
        },
        "build_path": base,
        "stage": item.stage,
        "user": user_basic(state, state.users[item.user]) if item.user in state.users else None,
        "runner": runner(state, item),
        "pipeline": pipeline_basic(state, state.pipelines[item.pipeline_id]),
        "duration": job(state, item, now)["duration"],
    }
    if item.status in FINISHED:
        result["retry_path"] = f"{base}/retry"
    else:
        result["cancel_path"] = f"{base}/cancel"
    if state.terminal_denial(viewer, item) is None:
        result["terminal_path"] = f"{base}/terminal"
    return result
