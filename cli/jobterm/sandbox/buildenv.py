"""A job's build directory and environment, shared by its script (script.py) and the
shells of its terminal (workhorse.py), as a runner gives both the same ones."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from jobterm.sandbox.state import Job, Project, SandboxState, User

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def build_dir(work_dir: Path, state: SandboxState, job: Job) -> Path:
    """The job's own directory (CI_PROJECT_DIR): <work>/builds/<job id>/<project path>,
    so every job, a retried one too, starts in a fresh one; made if missing."""
    if job.build_dir:
        path = Path(job.build_dir)
    else:
        project = state.project_of(job)
        path = work_dir / "builds" / str(job.id) / project.path_with_namespace
    path.mkdir(parents=True, exist_ok=True)
    return path


def ci_environment(
    state: SandboxState, job: Job, user: User, build_dir: Path, home: Path
) -> dict[str, str]:
    """A clean environment with GitLab Runner's predefined CI variables (no TERM: the
    runner sets none for a terminal)."""
    project = state.project_of(job)
    pipeline = state.pipelines.get(job.pipeline_id)
    runner = state.runner_of(job)
    sha = pipeline.sha if pipeline is not None else "0" * 40
    home.mkdir(parents=True, exist_ok=True)
    project_url = f"{state.base_url}/{project.path_with_namespace}"
    env = {
        "HOME": str(home),
        "PATH": DEFAULT_PATH,
        "USER": _os_user(),
        "LOGNAME": _os_user(),
        **_server_variables(state.base_url),
        "CI_JOB_ID": str(job.id),
        "CI_JOB_NAME": job.name,
        "CI_JOB_STAGE": job.stage,
        "CI_JOB_STATUS": "running",
        "CI_JOB_URL": state.job_web_url(job),
        **_project_variables(project, project_url, build_dir),
        "CI_COMMIT_REF_NAME": job.ref,
        "CI_COMMIT_BRANCH": job.ref,
        "CI_COMMIT_SHA": sha,
        "CI_COMMIT_SHORT_SHA": sha[:8],
        "CI_PIPELINE_ID": str(job.pipeline_id),
        "CI_PIPELINE_URL": f"{project_url}/-/pipelines/{job.pipeline_id}",
        "CI_PIPELINE_SOURCE": pipeline.source if pipeline is not None else "push",
        **_user_variables(user),
    }
    if runner is not None:
        env["CI_RUNNER_ID"] = str(runner.id)
        env["CI_RUNNER_DESCRIPTION"] = runner.description
    env.update(job.variables)
    return env


def _project_variables(project: Project, project_url: str, build_dir: Path) -> dict[str, str]:
    namespace, _, name = project.path_with_namespace.rpartition("/")
    return {
        "CI_PROJECT_ID": str(project.id),
        "CI_PROJECT_NAME": name,
        "CI_PROJECT_NAMESPACE": namespace,
        "CI_PROJECT_PATH": project.path_with_namespace,
        "CI_PROJECT_URL": project_url,
        "CI_PROJECT_DIR": str(build_dir),
        "CI_BUILDS_DIR": _builds_dir(build_dir, project.path_with_namespace),
    }


def _user_variables(user: User) -> dict[str, str]:
    return {
        "GITLAB_USER_ID": str(user.id),
        "GITLAB_USER_LOGIN": user.username,
        "GITLAB_USER_NAME": user.name,
        "GITLAB_USER_EMAIL": user.email,
    }


def _server_variables(base_url: str) -> dict[str, str]:
    server = urlsplit(base_url)
    return {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER": "yes",
        "CI_SERVER_URL": base_url,
        "CI_SERVER_HOST": server.hostname or "127.0.0.1",
        "CI_SERVER_PORT": str(server.port or (443 if server.scheme == "https" else 80)),
        "CI_SERVER_PROTOCOL": server.scheme,
        "CI_API_V4_URL": f"{base_url}/api/v4",
    }


def _builds_dir(build_dir: Path, project_path: str) -> str:
    """The directory the project directory sits in, as <builds>/<namespace>/<project>."""
    depth = len(project_path.split("/"))
    tail = build_dir.parts[-depth:]
    if "/".join(tail) == project_path and len(build_dir.parts) > depth:
        return str(build_dir.parents[depth - 1])
    return str(build_dir.parent)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
