"""Completion against the sandbox, signed in for real: the cache's freshness, the background
refresh, signing out, and the generated scripts driven by real shells."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from completion_helpers import (
    REPO,
    complete,
    host_name,
    read_cache,
    seed_cache,
    values,
    wait_until,
)
from util import scaled

DEMO_RUNNING = ["101", "102", "107", "108"]
STALE = {"demo/webapp": [[999, "old", "test", "main"]]}


# The user's running jobs (attach, exec) and failed ones (debug, logs) of demo/webapp.
CACHED = [101, 102, 106, 107, 108]


def cached_ids(env: dict[str, str], host: str, project: str) -> list[int] | None:
    entry = read_cache(env).get("hosts", {}).get(host, {}).get("jobs", {}).get(project)
    return None if entry is None else sorted(row[0] for row in entry["items"])


@pytest.fixture
def demo(sandbox: Any, signed_in: Any) -> dict[str, str]:
    env: dict[str, str] = signed_in(sandbox)
    return env


def test_stale_cache_answers_at_once_and_refreshes_behind(
    demo: dict[str, str], sandbox: Any
) -> None:
    host = host_name(sandbox.url)
    seed_cache(demo, host, jobs=STALE, age=3600)
    first = complete(demo, "bash", "jobterm attach -p demo/webapp ")
    assert values(first) == ["999"]  # what the cache had, without waiting for the server
    assert first.stderr == ""
    assert wait_until(lambda: cached_ids(demo, host, "demo/webapp") == CACHED)
    assert sorted(values(complete(demo, "zsh", "jobterm attach -p demo/webapp "))) == DEMO_RUNNING


def test_fresh_cache_is_not_refreshed(demo: dict[str, str], sandbox: Any) -> None:
    host = host_name(sandbox.url)
    seed_cache(demo, host, jobs=STALE)
    assert values(complete(demo, "fish", "jobterm attach -p demo/webapp ")) == ["999"]
    assert not wait_until(lambda: cached_ids(demo, host, "demo/webapp") != [999], timeout=1.5)
    assert not list(Path(demo["JOBTERM_CACHE_DIR"]).glob(".refresh-*.lock"))


def test_empty_cache_fills_in(demo: dict[str, str], sandbox: Any) -> None:
    host = host_name(sandbox.url)
    first = complete(demo, "bash", "jobterm attach -p demo/webapp ")
    assert first.returncode == 0
    assert first.stderr == ""
    # The first answer waited at most half a second for the refresher; whatever it had then
    # is right, and the cache is complete soon after.
    assert set(values(first)) in (set(), set(DEMO_RUNNING))
    assert wait_until(lambda: cached_ids(demo, host, "demo/webapp") == CACHED)
    assert sorted(values(complete(demo, "bash", "jobterm attach -p demo/webapp "))) == DEMO_RUNNING
    projects = complete(demo, "bash", "jobterm jobs --project ")
    assert wait_until(lambda: "projects" in read_cache(demo)["hosts"][host])
    later = values(complete(demo, "bash", "jobterm jobs --project "))
    assert {"demo/webapp", "demo/tools/cli"} <= set(later)
    assert set(values(projects)) <= set(later)


def test_lost_session_forgets_the_cache(make_sandbox: Any, signed_in: Any) -> None:
    sandbox = make_sandbox({"settings": {"remember_me_enabled": False}})
    env = signed_in(sandbox)
    host = host_name(sandbox.url)
    seed_cache(env, host, jobs=STALE, age=3600)
    sandbox.admin("POST", "/users/demo/expire-sessions")
    assert values(complete(env, "bash", "jobterm attach -p demo/webapp ")) == ["999"]
    # the host's cache is emptied; an empty entry stays, so Tab does not wait on the server
    assert wait_until(lambda: cached_ids(env, host, "demo/webapp") == [])
    assert list(read_cache(env)["hosts"][host]) == ["jobs"]
    again = complete(env, "bash", "jobterm attach -p demo/webapp ")
    assert (again.stdout, again.stderr) == ("", "")


def test_logout_means_no_answers(demo: dict[str, str], sandbox: Any) -> None:
    seed_cache(demo, host_name(sandbox.url), jobs=STALE)
    out = subprocess.run(
        [sys.executable, "-m", "jobterm", "logout"],
        capture_output=True,
        text=True,
        env=demo,
        timeout=scaled(30),
    )
    assert out.returncode == 0, out.stderr
    assert host_name(sandbox.url) not in read_cache(demo)["hosts"]  # nothing kept on disk
    for line in ("jobterm attach -p demo/webapp ", "jobterm attach --host ", "jobterm jobs -p "):
        result = complete(demo, "bash", line)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# -- real shells with the generated scripts -----------------------------------------------------


def shell_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    jobterm_dir = Path(sys.executable).parent
    if not (jobterm_dir / "jobterm").exists():
        pytest.skip("the jobterm entry point is not installed beside this Python")
    return dict(
        env,
        PATH=f"{jobterm_dir}:{env.get('PATH', '/usr/bin:/bin')}",
        TERM="dumb",
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        PS1="$ ",
    )


def test_bash_tab_offers_job_ids(demo: dict[str, str], sandbox: Any, tmp_path: Path) -> None:
    seed_cache(demo, host_name(sandbox.url), jobs={"demo/webapp": [[101, "build", "build", "main"],
               [102, "test:dash", "test", "main"]]})  # fmt: skip
    env = shell_env(demo, tmp_path)
    bash = pexpect.spawn(
        "bash", ["--norc", "--noprofile", "-i"], env=env, encoding="utf-8",
        timeout=scaled(20), dimensions=(24, 120),
    )  # fmt: skip
    try:
        bash.sendline(
            f"source {REPO / 'completions' / 'jobterm.bash'}; "
            "bind 'set show-all-if-ambiguous on'; echo READY-$((6*7))"
        )
        bash.expect_exact("READY-42")
        bash.send("jobterm attach -p demo/webapp 1\t")
        bash.expect_exact("102")
        assert "101" in bash.before
        bash.send("1\t")  # "101" is now the only one: Tab completes it
        bash.expect_exact("attach -p demo/webapp 101 ")
        bash.send("\x15")  # clear the line
        bash.send("jobterm attach --host \t")
        bash.expect_exact(host_name(sandbox.url))
    finally:
        bash.close(force=True)


def test_zsh_tab_shows_descriptions(demo: dict[str, str], sandbox: Any, tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    seed_cache(demo, host_name(sandbox.url), jobs={"demo/webapp": [[101, "build", "build", "main"],
               [102, "test:dash", "test", "main"]]})  # fmt: skip
    env = shell_env(demo, tmp_path)
    zsh = pexpect.spawn(
        "zsh", ["-f", "-i"], env=env, encoding="utf-8", timeout=scaled(20), dimensions=(24, 120)
    )
    try:
        zsh.sendline(
            "PS1='$ '; autoload -Uz compinit; compinit -u -D; "
            f"source {REPO / 'completions' / '_jobterm'}; echo READY-$((6*7))"
        )
        zsh.expect_exact("READY-42")
        zsh.send("jobterm attach -p demo/webapp \t")
        zsh.expect_exact("webapp 10")  # the first Tab inserts what both ids share
        zsh.send("\t")  # the second lists them, with their descriptions
        zsh.expect_exact("test:dash [test] main")
        assert "build [build] main" in zsh.before
    finally:
        zsh.close(force=True)


def test_fish_completes_with_descriptions(
    demo: dict[str, str], sandbox: Any, tmp_path: Path
) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    seed_cache(
        demo, host_name(sandbox.url), jobs={"demo/webapp": [[101, "build", "build", "main"]]}
    )
    script = REPO / "completions" / "jobterm.fish"
    result = subprocess.run(
        ["fish", "--no-config", "-c",
         f"source {script}; complete -C 'jobterm attach -p demo/webapp '; "
         "complete -C 'jobterm attach --record '"],
        capture_output=True, text=True, env=shell_env(demo, tmp_path), cwd=tmp_path,
        timeout=scaled(30),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "101\tbuild [build] main"
