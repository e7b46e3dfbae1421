"""The keyring backend is found once and then remembered (gitlab/keyring_backend.py):

* signing in searches as keyring does and remembers the answer in the cache directory;
* later runs load that backend alone: none of the others keyring would import to compare;
* a remembered name that no longer loads is searched again and put right;
* the user's own choice (PYTHON_KEYRING_BACKEND) always wins over what was remembered.

Each runs the real CLI with a real keyring backend (keyrings.alt's file keyring, which
keyring finds by itself here: no desktop keyring runs in a test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures_auth import jobterm, login_stdin
from jobterm.gitlab.keyring_backend import FILE
from util import scaled

#: Backends keyring imports to compare them when it searches (those present on Linux).
SEARCHED = (
    "keyring.backends.SecretService",
    "keyring.backends.kwallet",
    "keyring.backends.chainer",
)

LOADED = (
    "import atexit, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write('\\n'.join(sorted(sys.modules))))\n"
    "sys.argv = ['jobterm', *sys.argv[2:]]\n"
    "from jobterm.__main__ import run\n"
    "run()\n"
)


def _loaded(env: dict[str, str], tmp_path: Path, args: list[str]) -> tuple[int, set[str]]:
    out = tmp_path / "modules"
    done = subprocess.run(
        [sys.executable, "-c", LOADED, str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    return done.returncode, set(out.read_text().split())


@pytest.fixture
def searching_env(sandbox: Any, auth_env: dict[str, str]) -> dict[str, str]:
    """A user signed in to the sandbox with no keyring backend named: keyring searches."""
    env = {k: v for k, v in auth_env.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["GITLAB_HOST"] = sandbox.url
    done = jobterm(
        ["login", sandbox.url, "--username", "demo", "--password-stdin"],
        env,
        stdin=login_stdin(sandbox, "demo"),
    )
    assert done.returncode == 0, done.stderr
    return env


def _found_by_search(env: dict[str, str]) -> str:
    code = (
        "import keyring; b = keyring.get_keyring(); "
        "print(type(b).__module__ + '.' + type(b).__qualname__)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


EXEC = ["exec", "101", "--project", "demo/webapp", "--", "echo", "in-the-job"]


def test_signing_in_remembers_the_backend_later_runs_load_it_alone(
    searching_env: dict[str, str], tmp_path: Path
) -> None:
    remembered = Path(searching_env["JOBTERM_CACHE_DIR"]) / FILE
    assert remembered.read_text().strip() == _found_by_search(searching_env)
    code, modules = _loaded(searching_env, tmp_path, EXEC)
    assert code == 0
    assert remembered.read_text().strip().rpartition(".")[0] in modules
    assert not modules & set(SEARCHED), modules & set(SEARCHED)
    # The comparison is real: a search does import them.
    remembered.unlink()
    code, modules = _loaded(searching_env, tmp_path, EXEC)
    assert code == 0
    assert modules & set(SEARCHED)
    assert remembered.exists()  # and the answer is remembered again


@pytest.mark.parametrize(
    "damage",
    [
        "no.such.Backend",
        "not a name",
        "",
        "keyring.backends.fail.Keyring",
        "this.s",  # importable, but not a keyring: its import would print to stdout
    ],
)
def test_a_remembered_name_that_does_not_load_is_searched_again(
    searching_env: dict[str, str], damage: str
) -> None:
    remembered = Path(searching_env["JOBTERM_CACHE_DIR"]) / FILE
    found = remembered.read_text()
    remembered.write_text(damage)
    done = jobterm(EXEC, searching_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "in-the-job\n"
    assert remembered.read_text() == found


def test_the_users_own_choice_wins(searching_env: dict[str, str]) -> None:
    env = dict(searching_env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    done = jobterm(EXEC, env)
    assert done.returncode != 0
    assert "no usable keyring" in done.stderr
    assert "keyring.backends.null.Keyring" in done.stderr


def test_a_remembered_name_others_could_write_is_not_believed(
    searching_env: dict[str, str], tmp_path: Path
) -> None:
    """Loading the name imports its module: a file group or others may write is ignored."""
    remembered = Path(searching_env["JOBTERM_CACHE_DIR"]) / FILE
    remembered.chmod(0o664)
    code, modules = _loaded(searching_env, tmp_path, EXEC)
    assert code == 0
    assert modules & set(SEARCHED)  # searched again, not loaded by name
    assert remembered.stat().st_mode & 0o777 == 0o600  # and remembered again, privately
