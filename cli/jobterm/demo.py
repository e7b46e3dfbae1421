"""The demo: sandbox in the background, `jobterm login`, then `jobterm attach`, as a user would.

Each step runs jobterm's real commands as child processes with a private config directory, so
the demo exercises exactly the code a user runs, and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from jobterm.errors import JobtermError, NotFoundError


def _start_sandbox() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobterm", "sandbox", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        err = proc.stderr.read() if proc.stderr else ""
        raise JobtermError(
            "the sandbox did not start", err.strip().splitlines()[-1] if err else None
        )
    return proc, json.loads(line)


def _pick(info: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    demo_user = next((u for u in info["users"] if u["username"] == "demo"), info["users"][0])
    for job in info["jobs"]:
        mine = job["user"] == demo_user["username"] and job["status"] == "running"
        if mine and name in (job["name"], str(job["id"])):
            return demo_user, job
    names = sorted({j["name"] for j in info["jobs"] if j["user"] == demo_user["username"]})
    raise NotFoundError(f"the sandbox has no running job {name!r}", f"try one of {names}")


def run_demo(job_name: str) -> int:
    proc, info = _start_sandbox()
    home = tempfile.mkdtemp(prefix="jobterm-demo-")
    env = dict(os.environ, JOBTERM_CONFIG_DIR=home, JOBTERM_CACHE_DIR=home)
    env.pop("GITLAB_HOST", None)
    me = [sys.executable, "-m", "jobterm"]
    try:
        user, job = _pick(info, job_name)
        sys.stderr.write(
            f"jobterm demo: sandbox GitLab at {info['url']}; signing in as {user['username']}…\n"
        )
        login = subprocess.run(
            [
                *me,
                "login",
                info["url"],
                "--username",
                user["username"],
                "--password-stdin",
                "--insecure-storage",
            ],
            input=user["password"] + "\n",
            text=True,
            env=env,
            check=False,
        )
        if login.returncode != 0:
            return login.returncode
        sys.stderr.write(
            f"jobterm demo: attaching to job {job['id']} '{job['name']}'. Try `env | grep CI_`, "
            "`stty size`, ~# for the session status; leave with ~. or `exit`.\n"
        )
        # --prepare: the runner (a shell executor) starts the terminal's shell in its own
        # directory with none of the job's variables; the demo starts in the build directory.
        attach = [*me, "attach", "--prepare", job["web_url"]]
        return subprocess.run(attach, env=env, check=False).returncode
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)
