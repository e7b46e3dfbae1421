"""`jobterm login --from-browser` end to end with real browsers: headless Chromium (over the
DevTools protocol) or Firefox ESR (over WebDriver BiDi) signs in to the sandbox and closes
(its cookies reach the disk), then jobterm reads the profile, stores the session and opens a
job terminal with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser_driver import HeadlessChromium, HeadlessFirefox, chromium_binary, firefox_binary
from fixtures_auth import auth_env_for, jobterm
from fixtures_sandbox import SandboxInfo

needs_chromium = pytest.mark.skipif(
    chromium_binary() is None,
    reason="no /usr/lib/chromium/chromium (`.ci/run` installs Debian's chromium when it can)",
)
needs_firefox = pytest.mark.skipif(
    firefox_binary() is None,
    reason="no /usr/lib/firefox-esr/firefox-esr (`.ci/run` installs firefox-esr when it can)",
)


def signed_in_profile(sandbox: SandboxInfo, profile: Path, username: str = "demo") -> None:
    with HeadlessChromium(profile) as browser:
        cookies = browser.sign_in(sandbox.url, username, sandbox.user(username)["password"])
        names = {c["name"] for c in cookies}
        assert {"_gitlab_session", "remember_user_token"} <= names


@needs_chromium
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


@needs_chromium
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


@needs_chromium
def test_signed_out_browser_session_is_rejected(sandbox: SandboxInfo, tmp_path: Path) -> None:
    profile = tmp_path / "chromium-profile"
    signed_in_profile(sandbox, profile, "bob")
    sandbox.admin("POST", "/users/bob/expire-sessions", remember_tokens=True)
    env = auth_env_for(tmp_path / "a")
    result = jobterm(["login", sandbox.url, "--from-browser", f"chromium:{profile}"], env)
    assert result.returncode == 17, result.stderr
    assert "did not accept the session" in result.stderr


@needs_firefox
def test_login_from_firefox_then_exec(sandbox: SandboxInfo, tmp_path: Path) -> None:
    """_gitlab_session is a session cookie: Firefox keeps it in sessionstore.jsonlz4 only."""
    profile = tmp_path / "firefox-profile"
    with HeadlessFirefox(profile) as browser:
        cookies = browser.sign_in(sandbox.url, "bob", sandbox.user("bob")["password"])
    assert "_gitlab_session" in {c["name"] for c in cookies}
    env = auth_env_for(tmp_path / "a")
    result = jobterm(["login", sandbox.url, f"--from-browser=firefox:{profile}"], env)
    assert result.returncode == 0, result.stderr
    assert f"firefox ({profile})" in result.stdout
    assert "as bob" in result.stdout
    done = jobterm(["exec", sandbox.job(103)["web_url"], "--", "true"], env, timeout=60)
    assert done.returncode == 0, done.stderr
