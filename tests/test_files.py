"""files.read_back, the one reader of jobterm's own files (config, caches, facts, the
keyring backend's name): every kind of file it must not trust, and each reader through it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobterm.files import Distrusted, load_json, read_back
from util import scaled

ROOT = os.getuid() == 0


def fifo(path: Path) -> None:
    os.mkfifo(path)


def zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def link_to_ours(path: Path) -> None:
    target = path.with_name("elsewhere.json")
    target.write_text("{}")
    path.symlink_to(target)


def others_may_write(path: Path) -> None:
    path.write_text("{}")
    path.chmod(0o666)


def someone_elses(path: Path) -> None:
    if not ROOT:
        pytest.skip("giving a file to another user needs root")
    path.write_text("{}")
    os.chown(path, 65534, 65534)


def huge(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)


def open_folder(path: Path) -> None:
    if not ROOT:
        pytest.skip("a folder of another user's needs root")
    path.write_text("{}")
    path.parent.chmod(0o777)
    os.chown(path.parent, 65534, 65534)


HOSTILE: dict[str, Callable[[Path], None]] = {
    "a FIFO": fifo,
    "/dev/zero": zero,
    "a symbolic link": link_to_ours,
    "writable by others": others_may_write,
    "another user's": someone_elses,
    "too large": huge,
    "in another user's folder anyone writes": open_folder,
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_files_it_must_not_trust_are_refused_at_once(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir(mode=0o700)
    path = folder / "config.json"
    HOSTILE[case](path)
    with pytest.raises(OSError, match=r"\[Errno (1|27|40)\]") as raised:
        read_back(path)  # refused: distrusted, or ELOOP for a symbolic link
    assert isinstance(raised.value, Distrusted) or raised.value.errno == 40


def test_a_file_of_its_own_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text('{"a": 1}')
    path.chmod(0o600)
    tmp_path.chmod(0o700)
    assert load_json(read_back(path)) == {"a": 1}


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000])
def test_json_nested_past_the_parser_is_damage_not_a_crash(text: str) -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        load_json(text)


def jobterm(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "jobterm", *args],
        env={**env, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=scaled(30),
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("case", ["a FIFO", "/dev/zero", "deep"])
def test_a_config_it_cannot_trust_is_exit_11_and_one_line(tmp_path: Path, case: str) -> None:
    from fixtures_auth import auth_env_for

    env = auth_env_for(tmp_path / "user")
    config = Path(env["JOBTERM_CONFIG_DIR"]) / "config.json"
    if case == "deep":
        config.write_text("[" * 100_000)
        config.chmod(0o600)
    else:
        HOSTILE[case](config)
    done = jobterm(env, "jobs", "-p", "demo/webapp")
    assert done.returncode == 11, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize("case", ["a FIFO", "/dev/zero", "writable by others"])
def test_a_tab_never_waits_on_a_cache_it_cannot_trust(tmp_path: Path, case: str) -> None:
    from completion_helpers import complete
    from fixtures_auth import auth_env_for

    env = auth_env_for(tmp_path / "user")
    cache = Path(env["JOBTERM_CACHE_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("completion.json", "cli-spec.json"):
        target = cache / name
        if not target.exists() and not target.is_symlink():
            HOSTILE[case](target)
    done = complete(env, "bash", "jobterm att")
    assert done.returncode == 0, done.stderr
    assert "attach" in done.stdout
