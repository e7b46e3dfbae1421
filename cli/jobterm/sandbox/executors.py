"""Where a job's script and its terminal's shell start, executor by executor, as GitLab Runner
starts them.

The script and the terminal are two different shells. The script always runs in the build
directory with every variable of the job (the runner's generated script exports them and
`cd`s there: `shells/abstract.go`, `writeExports` and `writeCdBuildDir`). The terminal is a new
shell beside it, and what it gets is whatever its executor's code leaves it:

    executor     terminal's shell (GitLab Runner source)          directory       variables
    shell        `exec.Command(BuildShell.Command, …)` + pty.Start  the runner's   the runner's
                 with no Dir, no Env (executors/shell/              own (its       own: none of
                 shell_terminal.go)                                 --working-     the job's
                                                                    directory)
    docker       `docker exec` of BuildShell.DockerCommand in the   the image's    the build
                 build container, no Env, no WorkingDir             WORKDIR        container's:
                 (executors/docker/terminal.go); the container's                   every job
                 Env is GetAllVariables() (createContainerConfig)                  variable
    kubernetes   exec of `sh -c "bash || sh"` in the pod's `build`  the image's    the build
                 container (executors/kubernetes/terminal.go); its  WORKDIR        container's:
                 Env is GetAllVariables().PublicOrInternal()                       predefined and
                 (kubernetes.go, buildContainer)                                   the job's own,
                                                                                   not the
                                                                                   project's

Build directories: the shell executor builds in `<its working directory>/builds/<runner short
token>/<concurrent id>/<project path>` and keeps it for the next job (so git says
"Reinitialized existing Git repository"); docker and kubernetes in `/builds/<project path>`
of a fresh volume. The sandbox has no containers: a job's "container" is a directory of its
own (`<work>/containers/<job id>`) that stands for the image's root and WORKDIR, its
`/builds` inside it. The runner's working directory, like /home/gitlab-runner, is
`<work>/home`, which is also every shell's HOME (the shell pool finds its shells by it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from jobterm.sandbox.state import FINISHED, Job, Project, SandboxState, User

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: executors/docker: how long the terminal waits for the build container to run.
CONTAINER_WAIT = 15.0


class Place(NamedTuple):
    """Where a shell starts: its working directory and its whole environment."""

    cwd: Path
    env: dict[str, str]


def executor_of(state: SandboxState, job: Job) -> str:
    runner = state.runner_of(job)
    return runner.executor if runner is not None else "shell"


def runner_home(work_dir: Path) -> Path:
    """The runner process's working directory and HOME (the package's /home/gitlab-runner)."""
    home = work_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    return home


def container_root(work_dir: Path, job: Job) -> Path:
    """What stands for the root (and WORKDIR) of a docker or kubernetes job's image."""
    root = work_dir / "containers" / str(job.id)
    root.mkdir(parents=True, exist_ok=True)
    return root


def build_dir(work_dir: Path, state: SandboxState, job: Job) -> Path:
    """The job's project directory (CI_PROJECT_DIR), chosen once for the job and made if
    missing; a directory the config gave wins."""
    if not job.build_dir:
        project = state.project_of(job).path_with_namespace
        if executor_of(state, job) == "shell":
            runner = state.runner_of(job)
            token = f"t{runner.id:07d}" if runner is not None else "t0000000"
            job.build_dir = str(_free_slot(state, job, runner_home(work_dir) / "builds" / token))
        else:
            job.build_dir = str(container_root(work_dir, job) / "builds" / project)
    path = Path(job.build_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_slot(state: SandboxState, job: Job, token_dir: Path) -> Path:
    """<token dir>/<n>/<project>: the lowest n no other unfinished job uses now (the
    runner's concurrent project id), so a retried job reuses its predecessor's directory."""
    project = state.project_of(job).path_with_namespace
    taken = {
        other.build_dir
        for other in state.jobs.values()
        if other.id != job.id and other.status not in FINISHED and other.build_dir
    }
    slot = 0
    while str(token_dir / str(slot) / project) in taken:
        slot += 1
    return token_dir / str(slot) / project


def fetch_sources(directory: Path) -> bool:
    """What `git init` of the build directory does to it; True when the repository is new
    ("Initialized empty …" rather than "Reinitialized existing …")."""
    git = directory / ".git"
    fresh = not git.is_dir()
    git.mkdir(parents=True, exist_ok=True)
    return fresh


def script_place(work_dir: Path, state: SandboxState, job: Job) -> Place:
    """The job's script: its build directory and every variable of the job, any executor."""
    directory = build_dir(work_dir, state, job)
    user = state.users[job.user]
    return Place(directory, job_variables(state, job, user, directory, runner_home(work_dir)))


def terminal_place(work_dir: Path, state: SandboxState, job: Job) -> Place:
    """The terminal's shell: what its executor leaves it (see the module comment)."""
    executor = executor_of(state, job)
    home = runner_home(work_dir)
    if executor == "shell":
        return Place(home, runner_environment(home))
    directory = build_dir(work_dir, state, job)
    env = job_variables(state, job, state.users[job.user], directory, home)
    if executor == "kubernetes":  # PublicOrInternal(): the project's variables are not public
        for name in state.project_of(job).variables:
            env.pop(name, None)
    return Place(container_root(work_dir, job), env)


def runner_environment(home: Path) -> dict[str, str]:
    """The environment of a runner process started as a service: a user's basics, no CI."""
    user = _os_user()
    return {
        "HOME": str(home),
        "PATH": DEFAULT_PATH,
        "USER": user,
        "LOGNAME": user,
        "SHELL": "/bin/bash",
    }


def job_variables(
    state: SandboxState, job: Job, user: User, build_dir: Path, home: Path
) -> dict[str, str]:
    """A clean environment with GitLab Runner's predefined variables, the job's own and its
    project's (no TERM: the runner sets none for a terminal)."""
    project = state.project_of(job)
    pipeline = state.pipelines.get(job.pipeline_id)
    runner = state.runner_of(job)
    sha = pipeline.sha if pipeline is not None else "0" * 40
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
    env.update(project.variables)
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
