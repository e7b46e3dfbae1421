"""The job log as GitLab Runner writes it: the same lines, colours and section markers.

Pure functions from a job's facts to bytes; the job life (lifecycle.py) and the script
runner (script.py) append them to `job.trace` as the job moves on. Shapes, from GitLab
Runner's source:

* the build logger's `Println` starts a line with "ESC[0K" (clear to the end of the line),
  `Infoln` with bold green, `SoftErrorln` with bold red and "ERROR: "; every line ends with
  the reset "ESC[0;m" before its newline;
* `section_start:<unix time>:<name>` and `section_end:…`, each followed by "\\r ESC[0K", around
  each stage, whose title is printed in bold cyan;
* the shell writer echoes each script line as "$ command" in bold green before running it;
* `Terminal is connected, will time out in 30m0s...` (Go's duration format) when a terminal
  holds the job, and `Job succeeded` / `ERROR: Job failed: exit code N` at the very end.
"""

from __future__ import annotations

import shlex
from typing import NamedTuple

from jobterm.core.joblog import (
    BOLD_CYAN,
    BOLD_GREEN,
    BOLD_RED,
    CLEAR,
    HELD_LINE,
    RESET,
    SUCCEEDED_LINE,
)
from jobterm.sandbox.model import Job, Runner

VERSION = "Running with gitlab-runner 17.6.0 (sandbox)"
IMAGE = "alpine:3.20"
GIT_DEPTH = 20  # GitLab's default for new projects


def println(text: str) -> str:
    return f"{CLEAR}{text}{RESET}\n"


def info(text: str) -> str:
    return f"{BOLD_GREEN}{text}{RESET}\n"


def soft_error(text: str) -> str:
    return f"{BOLD_RED}ERROR: {text}{RESET}\n"


def section(kind: str, name: str, now: float) -> str:
    return f"section_{kind}:{int(now)}:{name}\r{CLEAR}"


def stage(name: str, title: str, now: float) -> str:
    return section("start", name, now) + println(f"{BOLD_CYAN}{title}{RESET}")


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() of a whole number of seconds: 30m0s, 1h0m0s, 45s."""
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def executor_lines(runner: Runner | None) -> str:
    executor = runner.executor if runner is not None else "shell"
    lines = println(f'{BOLD_CYAN}Preparing the "{executor}" executor{RESET}')
    if executor == "docker":
        lines += println(f"Using Docker executor with image {IMAGE} ...")
    elif executor == "kubernetes":
        lines += println(f"Using Kubernetes executor with image {IMAGE} ...")
    else:
        lines += println("Using Shell (bash) executor...")
    return lines


class Sources(NamedTuple):
    """What fetching the sources found: the build directory, whether git made it anew."""

    directory: str
    fresh: bool
    sha: str


def job_start(job: Job, runner: Runner | None, now: float, sources: Sources | None) -> bytes:
    """From the header to the start of the job's script (the step_script section)."""
    name = runner.description if runner is not None else "sandbox runner"
    token = f"t{runner.id:07d}" if runner is not None else "t0000000"
    text = println(VERSION) + println(f"  on {name} {token}")
    text += section("start", "prepare_executor", now)
    text += executor_lines(runner) + section("end", "prepare_executor", now)
    text += stage("prepare_script", "Preparing environment", now)
    if runner is None or runner.executor == "shell":  # the shell executor names its host
        text += println("Running on sandbox...")
    else:
        text += println(f"Running on runner-{token}-project-{job.project_id}-concurrent-0...")
    text += section("end", "prepare_script", now)
    text += stage("get_sources", "Getting source from Git repository", now)
    text += get_sources(job, sources) + section("end", "get_sources", now)
    text += stage("step_script", 'Executing "step_script" stage of the job script', now)
    return text.encode("utf-8", "replace")


def get_sources(job: Job, sources: Sources | None) -> str:
    """The fetch strategy's lines (shells/abstract.go: its notices in green; the lines in
    between are git's own, `git init` naming the build directory)."""
    if job.git_strategy == "none":  # shells/abstract.go: writeGitSSLConfig is skipped too
        return info("Skipping Git repository setup")
    text = info(f"Fetching changes with git depth set to {GIT_DEPTH}...")
    if sources is None:
        return text + info(f"Checking out {job.ref} ...")
    if sources.fresh:
        text += f"Initialized empty Git repository in {sources.directory}/.git/\n"
        text += info("Created fresh repository.")
    else:
        text += f"Reinitialized existing Git repository in {sources.directory}/.git/\n"
    checkout = f"Checking out {sources.sha[:8]} as detached HEAD (ref is {job.ref})..."
    return text + info(checkout) + "\n" + info("Skipping Git submodules setup")


#: What the runner adds to the echo of a script line that spans several lines.
COLLAPSED = " # collapsed multi-line command"


def echo(command: str) -> str:
    """The "$ command" line the runner prints before each script line: a command of several
    lines is echoed by its first (shells/abstract.go)."""
    first, _, more = command.partition("\n")
    return info(f"$ {first}{COLLAPSED if more.strip() else ''}")


def shell_script(commands: list[str], bash: bool = True) -> str:
    """What the shell runs: each command echoed then run, stopping at the first failure
    (the runner's bash prologue; a POSIX sh has no pipefail)."""
    lines = ["set -eo pipefail" if bash else "set -e", "set +o noclobber"]
    for command in commands:
        lines.append("printf '%s' " + shlex.quote(echo(command)))
        lines.append(command)
    return "\n".join(lines) + "\n"


def script_end(now: float, result: str = "success", artifacts: bool = False) -> bytes:
    """From the end of step_script to the cleanup (common/build.go's order: after_script,
    the cache, the artifacts, then the cleanup; this sandbox's jobs have no after_script or
    cache, and the runner writes no section for what a job does not define)."""
    text = section("end", "step_script", now)
    if artifacts:
        ok = result == "success"
        name = "upload_artifacts_on_success" if ok else "upload_artifacts_on_failure"
        title = f"Uploading artifacts for {'successful' if ok else 'failed'} job"
        text += stage(name, title, now) + println("Uploading artifacts...")
        text += println('Uploading artifacts as "archive" to coordinator... 201 Created')
        text += section("end", name, now)
    title = "Cleaning up project directory and file based variables"
    text += stage("cleanup_file_variables", title, now)
    text += section("end", "cleanup_file_variables", now)
    return text.encode()


def terminal_connected(timeout: float) -> bytes:
    return info(f"{HELD_LINE} {go_duration(timeout)}...").encode()


def terminal_disconnected() -> bytes:
    return info("Terminal disconnected").encode()


def terminal_timed_out(timeout: float) -> bytes:
    limit = go_duration(timeout)
    return info(f"terminal session timed out (maximum time allowed - {limit})").encode()


def job_end(status: str, exit_code: int | None) -> bytes:
    if status == "success":
        return info(SUCCEEDED_LINE).encode()
    if status == "canceled":
        return soft_error("Job failed: canceled").encode()
    return soft_error(f"Job failed: exit code {1 if exit_code is None else exit_code}").encode()


def synthesized(job: Job, runner: Runner | None, started: float, ended: float | None) -> bytes:
    """A plausible whole log for a job whose run the sandbox did not watch (a world that
    starts with it finished): its commands echoed, no output."""
    text = job_start(job, runner, started, None)
    commands = job.script if job.script is not None else [f"./{job.name.replace(':', '-')}.sh"]
    text += "".join(echo(c) for c in commands).encode("utf-8", "replace")
    if ended is not None:
        text += script_end(ended) + job_end(job.status, job.exit_code)
    return text
