"""The jobs package's API for the commands: locate a job without asking the server, get it,
list jobs by status, retry it, read its log. Each runs in a real jobterm process signed in to
the sandbox (the keyring backend is chosen by the environment, as for the CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from fixtures_auth import SignedIn
from fixtures_sandbox import MakeSandbox, SandboxInfo
from util import scaled

PRELUDE = """
import json, sys
from jobterm.env import Environment
from jobterm.errors import JobtermError
from jobterm.gitlab.session import open_gitlab
from jobterm.jobs import actions, listing, locate
env = Environment()
def gitlab():
    return open_gitlab(env, None, need_web_session=False)
def show(value):
    print(json.dumps(value))
try:
{body}
except JobtermError as exc:
    show({{"error": type(exc).__name__, "message": exc.message, "code": int(exc.exit_code)}})
"""


def run(env: dict[str, str], body: str) -> Any:
    """Run `body` (Python, with `env`, `gitlab()`, `show()` and the jobs modules) in a fresh
    process; what it showed."""
    code = PRELUDE.format(body="\n".join("    " + line for line in body.strip().splitlines()))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=scaled(60),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_locate_derives_the_terminal_url_with_the_server_gone(
    make_sandbox: MakeSandbox, signed_in: SignedIn
) -> None:
    sandbox = make_sandbox()
    env = signed_in(sandbox)
    expected = sandbox.terminal_url(101)
    web_url = sandbox.job(101)["web_url"]
    sandbox.stop()  # any request would now fail: locate makes none
    found = run(
        env,
        f"""
refs = [("demo/webapp#101", None), ({web_url!r}, None), ("101", "demo/webapp"),
        ("1#101", None), (None, "demo/webapp")]
out = []
for ref, project in refs:
    where = locate.locate(env, ref, project=project, host=None)
    out.append([where.host.name, where.project, where.job_id, where.terminal_url])
show(out)
""",
    )
    host = sandbox.url.split("://", 1)[1]
    assert found == [
        [host, "demo/webapp", 101, expected],
        [host, "demo/webapp", 101, expected],
        [host, "demo/webapp", 101, expected],
        [host, "1", 101, None],  # a numeric project id needs REST to become a path
        [host, "demo/webapp", None, None],  # no job: a picker chooses
    ]


def test_list_jobs_filters_by_status_and_owner(sandbox: SandboxInfo, signed_in: SignedIn) -> None:
    env = signed_in(sandbox)
    found = run(
        env,
        """
with gitlab() as gl:
    ids = lambda jobs: sorted(int(j["id"]) for j in jobs)
    show({
        "failed": ids(listing.list_jobs(gl, "demo/webapp", ["failed"])),
        "running": ids(listing.list_jobs(gl, "demo/webapp", ["running"])),
        "anyone": ids(listing.list_jobs(gl, "demo/webapp", ["running"], mine=False)),
        "limit": len(listing.list_jobs(gl, "demo/webapp", limit=2)),
    })
""",
    )
    assert found["failed"] == [106]
    assert found["running"] == [101, 102, 107, 108]
    assert 103 in found["anyone"]  # bob's, seen only when not filtering by owner
    assert found["limit"] == 2


def test_retry_a_finished_job_gives_a_new_job(sandbox: SandboxInfo, signed_in: SignedIn) -> None:
    env = signed_in(sandbox)
    found = run(
        env,
        """
with gitlab() as gl:
    new = actions.retry_job(gl, "demo/webapp", 106)
    again = actions.get_job(gl, "demo/webapp", int(new["id"]))
    show({"id": new["id"], "name": new["name"], "same": again["id"] == new["id"]})
""",
    )
    assert found["id"] != 106
    assert found["name"] == "e2e"
    assert found["same"]


def test_retry_a_running_job_says_it_cannot_be_retried(
    sandbox: SandboxInfo, signed_in: SignedIn
) -> None:
    env = signed_in(sandbox)
    found = run(env, 'with gitlab() as gl:\n    show(actions.retry_job(gl, "demo/webapp", 101))')
    assert found["error"] == "NotRetryableError"
    assert "job 101 of demo/webapp cannot be retried" in found["message"]
    assert found["code"] == 5  # JOB_STATE


def test_read_trace_is_the_job_log(sandbox: SandboxInfo, signed_in: SignedIn) -> None:
    env = signed_in(sandbox)
    found = run(env, 'with gitlab() as gl:\n    show(actions.read_trace(gl, "demo/webapp", 106))')
    assert "ERROR: Job failed" in found
