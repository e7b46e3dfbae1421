"""Class: every file jobterm creates is private (0600, directories 0700), even under umask 000.

Each path that creates files runs with the process umask at 000 (children inherit it), in
fresh directories, and every file and directory it left there is checked: the config and
secrets files of `login`, their lock files, the completion cache and CLI spec that `jobs`
and Tab write, the scripts and rc files `--install-completion` writes, an `attach --record`
recording (new, and replacing a world-readable one),
and the temporary file `exec --stderr` keeps the command's stderr in, in the job.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from completion_helpers import complete
from fixtures_auth import auth_env_for, jobterm, login_stdin
from util import scaled


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def modes_under(root: Path) -> dict[str, str]:
    """Relative path -> octal mode of everything under `root` (root itself excluded)."""
    found = {}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root))] = f"{stat.S_IMODE(path.lstat().st_mode):04o}"
    return found


def assert_private(root: Path) -> None:
    modes = modes_under(root)
    assert modes, f"nothing was created under {root}"
    wrong = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0700" if (root / name).is_dir() else "0600")
    }
    assert not wrong, wrong


def fresh_env(tmp_path: Path, url: str) -> dict[str, str]:
    """An isolated user whose config and cache directories do not exist yet (nested, so
    jobterm creates parents too)."""
    env = auth_env_for(tmp_path / "user", url)
    env["JOBTERM_CONFIG_DIR"] = str(tmp_path / "mine" / "config" / "jobterm")
    env["JOBTERM_CACHE_DIR"] = str(tmp_path / "mine" / "cache" / "jobterm")
    return env


@pytest.mark.parametrize("storage", [[], ["--insecure-storage"]], ids=["keyring", "file"])
def test_private_files_class_login(umask_000, sandbox, tmp_path, storage):
    env = fresh_env(tmp_path, sandbox.url)
    args = ["login", sandbox.url, "--username", "demo", "--password-stdin", *storage]
    result = jobterm(args, env, stdin=login_stdin(sandbox, "demo"))
    assert result.returncode == 0, result.stderr
    created = modes_under(tmp_path / "mine")
    assert "config/jobterm/config.json" in created
    if storage:
        assert "config/jobterm/secrets.json" in created
    assert_private(tmp_path / "mine" / "config")


def test_private_files_class_cache_and_spec(umask_000, sandbox, tmp_path):
    """`jobs` fills the completion cache, Tab writes the CLI spec and starts refreshers."""
    env = fresh_env(tmp_path, sandbox.url)
    args = ["login", sandbox.url, "--username", "demo", "--password-stdin"]
    assert jobterm(args, env, stdin=login_stdin(sandbox, "demo")).returncode == 0
    assert jobterm(["jobs", "--project", "demo/webapp"], env).returncode == 0
    assert complete(env, "bash", "jobterm att").returncode == 0
    assert complete(env, "bash", "jobterm attach --project demo/tools/cli ").returncode == 0
    created = modes_under(tmp_path / "mine")
    assert {"cache/jobterm/completion.json", "cache/jobterm/cli-spec.json"} <= set(created)
    assert_private(tmp_path / "mine")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_private_files_class_install_completion(umask_000, tmp_path, shell):
    env = auth_env_for(tmp_path / "user")
    home = tmp_path / "home"
    env.update(HOME=str(home), SHELL=f"/bin/{shell}", XDG_CONFIG_HOME=str(home / ".config"))
    result = jobterm(["--install-completion"], env)
    assert result.returncode == 0, result.stderr
    assert_private(home)


def test_private_files_class_recording(umask_000, spawn_jobterm, signed_in_env, tmp_path):
    recordings = tmp_path / "casts"
    recordings.mkdir()
    old = recordings / "old.cast"
    old.write_text("someone else could read this\n")
    old.chmod(0o644)
    for cast in (recordings / "new.cast", old):
        run = spawn_jobterm(
            ["attach", "101", "--project", "demo/webapp", "--record", str(cast)], signed_in_env
        )
        run.child.expect("attached to job", timeout=scaled(20))
        run.child.send("echo recorded-$((6*7))\r")
        run.child.expect("recorded-42", timeout=scaled(20))
        run.child.send("\r~.")
        assert run.wait_done() == 0
    assert modes_under(recordings) == {"new.cast": "0600", "old.cast": "0600"}


def test_private_files_class_exec_stderr(umask_000, make_sandbox, tmp_path):
    """The job's shell runs under umask 000 too (the sandbox inherits it): the file that
    holds the command's stderr in the job is still private."""
    sandbox = make_sandbox()
    env = auth_env_for(tmp_path, sandbox.url)
    args = ["login", sandbox.url, "--username", "demo", "--password-stdin"]
    assert jobterm(args, env, stdin=login_stdin(sandbox, "demo")).returncode == 0
    probe = "umask; stat -L -c %a /dev/stderr"
    result = jobterm(
        ["exec", "101", "--project", "demo/webapp", "--stderr", "--", "sh", "-c", probe], env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0000", "600"]
