"""`jobterm jobs` against the sandbox, signed in as a real user would be."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from completion_helpers import complete, read_cache, values
from fixtures_auth import auth_env_for, login_stdin
from fixtures_auth import jobterm as run_jobterm
from fixtures_sandbox import _Sandboxes
from util import scaled

DEMO_RUNNING = {101, 102, 107, 108}  # demo's running jobs in demo/webapp (103 is bob's)
CAROL = {
    "users": [{"username": "carol", "password": "carol-password-1"}],
    "projects": [{"path": "carol/app", "members": ["carol"]}],
}


def jobs(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobterm", "jobs", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=scaled(60),
    )


def ids_in_json(result: subprocess.CompletedProcess[str]) -> set[int]:
    assert result.returncode == 0, result.stderr
    return {row["id"] for row in json.loads(result.stdout)}


@pytest.fixture
def demo(sandbox: Any, signed_in: Any) -> dict[str, str]:
    env: dict[str, str] = signed_in(sandbox)
    return env


def test_table_lists_my_running_jobs(demo: dict[str, str], tmp_path: Path) -> None:
    result = jobs(demo, "--project", "demo/webapp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "your running jobs in demo/webapp" in lines[0]
    header = lines[1].split()
    assert header == ["ID", "PROJECT", "JOB", "STAGE", "REF", "STATUS", "RUNNER", "RUNNING",
                      "TERMINAL"]  # fmt: skip
    rows = {int(line.split()[0]): line for line in lines[2:]}
    assert set(rows) == DEMO_RUNNING
    assert "build" in rows[101]
    assert "shell-runner (session server)" in rows[101]
    assert rows[101].split()[-1] == "yes"
    assert rows[107].split()[-1] == "no"  # its runner has no session server
    assert rows[108].split()[-1] == "no"  # an instance runner: no terminal
    assert "\x1b[" not in result.stdout  # piped: no colour codes


def test_json_shape(demo: dict[str, str]) -> None:
    result = jobs(demo, "-p", "demo/webapp", "--json")
    assert ids_in_json(result) == DEMO_RUNNING
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    build = rows[101]
    assert set(build) == {"id", "project", "name", "stage", "ref", "status", "runner",
                          "started_at", "seconds", "terminal", "web_url"}  # fmt: skip
    assert build["project"] == "demo/webapp"
    assert (build["name"], build["stage"], build["status"]) == ("build", "build", "running")
    assert build["terminal"] is True
    assert rows[107]["terminal"] is False
    assert isinstance(build["seconds"], int)
    assert build["web_url"].endswith("/demo/webapp/-/jobs/101")
    assert result.stderr == ""  # not a terminal: no spinner


def test_all_includes_pending_and_finished(demo: dict[str, str]) -> None:
    result = jobs(demo, "-p", "demo/webapp", "--all", "--json")
    found = ids_in_json(result)
    assert DEMO_RUNNING | {104, 105, 106} <= found
    assert not found & {103, 109}  # other users' jobs never show
    statuses = {row["id"]: row["status"] for row in json.loads(result.stdout)}
    assert (statuses[104], statuses[105], statuses[106]) == ("pending", "success", "failed")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, dict[str, str], dict[str, str]]]:
    """A sandbox of this module's own with carol (no jobs) besides demo, both signed in; the
    tests switch its pipelines API on and off."""
    root = tmp_path_factory.mktemp("world")
    sandboxes = _Sandboxes(root)
    sandbox = sandboxes(CAROL)
    try:
        envs = []
        for name in ("demo", "carol"):
            env = auth_env_for(root / name, sandbox.url)
            login = run_jobterm(
                ["login", sandbox.url, "--username", name, "--password-stdin"],
                env,
                stdin=login_stdin(sandbox, name),
            )
            assert login.returncode == 0, login.stderr
            envs.append(env)
        yield sandbox, envs[0], envs[1]
    finally:
        sandboxes.close()


@pytest.mark.parametrize("pipelines_api", [True, False])
def test_everywhere(world: Any, pipelines_api: bool) -> None:
    sandbox, demo, _ = world
    sandbox.admin("PATCH", "/settings", pipelines_api=pipelines_api)
    result = jobs(demo, "--everywhere", "--json")
    found = ids_in_json(result)
    # Without the pipelines API we ask the member projects, which leaves out archived ones
    # (demo/legacy's job 301: archived projects have no terminals anyway).
    assert found == DEMO_RUNNING | {201} | ({301} if pipelines_api else set())
    projects = {row["id"]: row["project"] for row in json.loads(result.stdout)}
    assert (projects[201], projects[101]) == ("demo/tools/cli", "demo/webapp")
    if pipelines_api:
        assert projects[301] == "demo/legacy"


@pytest.mark.parametrize("pipelines_api", [True, False])
def test_empty_result_says_why(world: Any, pipelines_api: bool) -> None:
    sandbox, _, carol = world
    sandbox.admin("PATCH", "/settings", pipelines_api=pipelines_api)
    result = jobs(carol, "--everywhere")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "you have no running jobs" in result.stderr
    said = "via your pipelines" if pipelines_api else "in your projects; 1 checked"
    assert said in result.stderr
    assert "--all" in result.stderr


def test_empty_project_says_why(world: Any) -> None:
    _, _, carol = world
    here = jobs(carol, "-p", "carol/app")
    assert here.returncode == 0
    assert "no running jobs in carol/app" in here.stderr
    assert "--everywhere" in here.stderr
    assert jobs(carol, "-p", "carol/app", "--json").stdout.strip() == "[]"


def test_project_from_git_remote_or_a_clear_error(
    demo: dict[str, str], sandbox: Any, tmp_path: Path
) -> None:
    outside = jobs(demo, cwd=tmp_path)
    assert outside.returncode == 2
    assert "which project?" in outside.stderr
    assert "--everywhere" in outside.stderr
    repo = tmp_path / "checkout"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    remote = sandbox.url + "/demo/tools/cli.git"
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", remote], check=True)
    assert ids_in_json(jobs(demo, "--json", cwd=repo)) == {201}


def test_listing_warms_completion(demo: dict[str, str]) -> None:
    result = jobs(demo, "-p", "demo/webapp")
    assert result.returncode == 0, result.stderr
    hosts = read_cache(demo)["hosts"]
    (cached,) = hosts.values()
    assert {row[0] for row in cached["jobs"]["demo/webapp"]["items"]} == DEMO_RUNNING
    answer = complete(demo, "bash", "jobterm attach -p demo/webapp 10")
    assert sorted(values(answer)) == ["101", "102", "107", "108"]


def test_unknown_project(demo: dict[str, str]) -> None:
    result = jobs(demo, "-p", "demo/nope")
    assert result.returncode == 4
    assert "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_on_a_terminal_a_spinner_then_the_table(demo: dict[str, str]) -> None:
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "jobterm", "jobs", "-p", "demo/webapp"],
        env=dict(demo, TERM="xterm-256color"),
        encoding="utf-8",
        dimensions=(30, 160),
        timeout=scaled(30),
    )
    child.expect(pexpect.EOF)
    child.close()
    out = child.before
    assert child.exitstatus == 0, out
    assert "finding your jobs" in out  # the spinner, on stderr (a terminal here)
    assert 0 <= out.find("\x1b[?25h") < out.index("TERMINAL")  # cursor back before the table
    assert "test:dash" in out
