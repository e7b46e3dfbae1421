"""Signed-in users for tests: a private config dir and a real keyring file backend per test.

* `auth_env()` (fixture `auth_env`): the environment variables that give one jobterm user
  its own config dir, cache dir and keyring (keyrings.alt's PlaintextKeyring, which keeps
  `$XDG_DATA_HOME/python_keyring/keyring_pass.cfg`; XDG_CONFIG_HOME is private too, so no
  keyringrc.cfg of the machine is read).
* `signed_in(sandbox, username="demo")` (fixture `signed_in`): runs the real
  `jobterm login URL --username NAME --password-stdin` (answering a two-factor code from the
  user's TOTP secret when the user has one) and returns that environment, GITLAB_HOST set, so
  a test can run `jobterm attach ...` as a signed-in user:

      def test_attach(sandbox, signed_in):
          env = signed_in(sandbox)
          subprocess.run([sys.executable, "-m", "jobterm", "attach", "101", ...], env=env)

  `sandbox` may be anything with a `url` and `users` (the sandbox fixtures' info, or the
  `--json` object of `jobterm sandbox` as a dict); users are dicts or objects with
  `username`, `password` and optionally `totp_secret`.
* `jobterm(args, env, stdin=...)`: run the CLI in a subprocess, return the CompletedProcess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from util import scaled

KEYRING_BACKEND = "keyrings.alt.file.PlaintextKeyring"


def auth_env_for(root: Path, url: str | None = None) -> dict[str, str]:
    """A full environment for one isolated jobterm user under `root`."""
    for sub in ("config", "cache", "data", "xdg-config"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITLAB_", "JOBTERM_CONFIG", "JOBTERM_CACHE", "XDG_"))
        and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PYTHON_KEYRING_BACKEND")
    }
    env.update(
        JOBTERM_CONFIG_DIR=str(root / "config"),
        JOBTERM_CACHE_DIR=str(root / "cache"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "xdg-config"),
        PYTHON_KEYRING_BACKEND=KEYRING_BACKEND,
    )
    if url is not None:
        env["GITLAB_HOST"] = url
    return env


def keyring_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg"


def jobterm(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobterm", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=scaled(timeout),
    )


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def user_of(sandbox: Any, username: str) -> Any:
    for user in _get(sandbox, "users") or []:
        if _get(user, "username") == username:
            return user
    raise KeyError(username)


def login_stdin(sandbox: Any, username: str) -> str:
    """What `--password-stdin` reads: the password, then a TOTP code if the user needs one."""
    import pyotp

    user = user_of(sandbox, username)
    text = f"{_get(user, 'password')}\n"
    secret = _get(user, "totp_secret")
    if secret:
        text += pyotp.TOTP(secret).now() + "\n"
    return text


SignedIn = Callable[..., dict[str, str]]


@pytest.fixture
def auth_env(tmp_path: Path) -> dict[str, str]:
    return auth_env_for(tmp_path / "auth")


@pytest.fixture
def signed_in(tmp_path: Path) -> SignedIn:
    count = 0

    def sign_in(sandbox: Any, username: str = "demo") -> dict[str, str]:
        nonlocal count
        count += 1
        url = str(_get(sandbox, "url"))
        env = auth_env_for(tmp_path / f"signed-in-{count}-{username}", url)
        result = jobterm(
            ["login", url, "--username", username, "--password-stdin"],
            env,
            stdin=login_stdin(sandbox, username),
        )
        assert result.returncode == 0, result.stderr
        return env

    return sign_in
