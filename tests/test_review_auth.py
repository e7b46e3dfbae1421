"""Review findings on sign-in and the GitLab client, each checked against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures_auth import jobterm
from fixtures_sandbox import SandboxInfo


def assert_one_line(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("jobterm: ")
    assert "Traceback" not in stderr


def test_null_keyring_is_not_a_place_to_keep_secrets(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    # keyring's null backend (what pip's docs suggest to disable keyring) stores nothing:
    # login must refuse, as it does for fail.Keyring, not report the secrets "kept".
    env = dict(auth_env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    before = sandbox.admin("GET", "/users/demo")
    result = jobterm(
        ["login", sandbox.url, "-u", "demo", "--password-stdin"], env, stdin="demo-password\n"
    )
    assert result.returncode == 11, result.stdout + result.stderr
    assert "no usable keyring" in result.stderr
    assert_one_line(result.stderr)
    assert sandbox.admin("GET", "/users/demo")["sessions"] == before["sessions"]


SECRET = "r2secrettoken0123456789"


@pytest.mark.parametrize(
    "token", [f"{SECRET}\nX", f"{SECRET} x", f"{SECRET}\u00e9"], ids=["newline", "space", "latin1"]
)
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_malformed_gitlab_token_is_never_shown(
    sandbox: SandboxInfo, signed_in: Any, token: str, debug: bool
) -> None:
    # A value HTTP cannot carry in a header made httpx raise with the value in its message,
    # which reached the terminal (and, for non-ASCII, an internal error).
    env = dict(signed_in(sandbox), GITLAB_TOKEN=token)
    args = ["--debug"] if debug else []
    result = jobterm([*args, "jobs", "-p", "demo/webapp"], env)
    assert SECRET not in result.stdout + result.stderr
    assert result.returncode == 3, result.stderr
    assert "GITLAB_TOKEN" in result.stderr
    if not debug:
        assert_one_line(result.stderr)


def test_surrounding_spaces_of_gitlab_token_are_ignored(
    sandbox: SandboxInfo, signed_in: Any
) -> None:
    # `jobterm login --token` strips GITLAB_TOKEN; every other command must do the same.
    env = dict(signed_in(sandbox), GITLAB_TOKEN=f" {sandbox.user('demo')['token']}\n")
    result = jobterm(["jobs", "-p", "demo/webapp", "--json"], env)
    assert result.returncode == 0, result.stderr
