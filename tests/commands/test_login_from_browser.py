"""`jobterm login --from-browser` end to end with a real browser: headless Chromium signs in
to the sandbox over the DevTools protocol, closes (its cookies reach the disk), then jobterm
reads the profile, stores the session and opens a job terminal with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser_driver import HeadlessChromium, chromium_binary
from fixtures_auth import auth_env_for, jobterm
from fixtures_sandbox import SandboxInfo

pytestmark = pytest.mark.skipif(
    chromium_binary() is None,
    reason="no /usr/lib/chromium/chromium (`.ci/run` installs Debian's chromium when it can)",
)


def signed_in_profile(sandbox: SandboxInfo, profile: Path, username: str = "demo") -> None:
    with HeadlessChromium(profile) as browser:
        cookies = browser.sign_in(sandbox.url, username, sandbox.user(username)["password"])
        names = {c["name"] for c in cookies}
        assert {"_gitlab_session", "remember_user_token"} <= names


def test_login_from_chromium_then_exec(sandbox: SandboxInfo, tmp_path: Path) -> None:
    profile = tmp_path / "chromium-profile"
    signed_in_profile(sandbox, profile)
    env = auth_env_for(tmp_path / "a")
    result = jobterm(["login", sandbox.url, "--from-browser", f"chromium:{profile}"], env)
    assert result.returncode == 0, result.stderr
    assert f"chromium ({profile / 'Default'})" in result.stdout
    assert "as demo" in result.stdout
    status = json.loads(jobterm(["auth", "status", "--json"], env).stdout)
    assert status["hosts"][0]["username"] == "demo"
    done = jobterm(["exec", sandbox.job(101)["web_url"], "--", "true"], env, timeout=60)
    assert done.returncode == 0, done.stderr


def test_profile_name_inside_a_user_data_dir(sandbox: SandboxInfo, tmp_path: Path) -> None:
    """PROFILE may also be the profile directory itself (…/Default)."""
    profile = tmp_path / "chromium-profile"
    signed_in_profile(sandbox, profile, "bob")
    env = auth_env_for(tmp_path / "a")
    result = jobterm(
        ["login", sandbox.url, "--from-browser", f"chromium:{profile / 'Default'}"], env
    )
    assert result.returncode == 0, result.stderr
    assert "as bob" in result.stdout


def test_signed_out_browser_session_is_rejected(sandbox: SandboxInfo, tmp_path: Path) -> None:
    profile = tmp_path / "chromium-profile"
    signed_in_profile(sandbox, profile, "bob")
    sandbox.admin("POST", "/users/bob/expire-sessions", remember_tokens=True)
    env = auth_env_for(tmp_path / "a")
    result = jobterm(["login", sandbox.url, "--from-browser", f"chromium:{profile}"], env)
    assert result.returncode == 17, result.stderr
    assert "did not accept the session" in result.stderr
