"""`jobterm login --from-browser` against the sandbox with browser profiles the tests build
(no browser needed): each way it succeeds, and each refusal as one line with its own exit
code (README: 14 no browser, 15 no such profile, 16 no session, 17 rejected, 18 unreadable
store, 19 cannot decrypt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from browser_stores import chromium_profile, firefox_profile
from fixtures_auth import auth_env_for, jobterm, keyring_file
from fixtures_sandbox import SandboxInfo, post_sign_in
from util import scaled


def browser_session(sandbox: SandboxInfo, username: str = "demo") -> dict[str, str]:
    """Sign in with a plain HTTP client as a browser would; its cookies."""
    with httpx.Client(base_url=sandbox.url, timeout=scaled(10)) as client:
        answer = post_sign_in(client, sandbox, username, remember=True)
        assert answer.status_code == 302
        return dict(client.cookies.items())


def rows(cookies: dict[str, str]) -> list[tuple[str, str, str, str]]:
    return [("127.0.0.1", name, value, "/") for name, value in cookies.items()]


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def login(sandbox: SandboxInfo, env: dict[str, str], *args: str) -> Any:
    return jobterm(["login", sandbox.url, *args], env)


def test_chromium_store_from_any_browser(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    env["HOME"] = str(tmp_path / "home")
    cookies = browser_session(sandbox)
    # Where Chromium keeps its profiles on Linux: $XDG_CONFIG_HOME/chromium.
    chromium_profile(Path(env["XDG_CONFIG_HOME"]) / "chromium", rows(cookies))
    result = jobterm(["login", sandbox.url, "--from-browser"], env)
    assert result.returncode == 0, result.stderr
    assert "Read the session from chromium" in result.stdout
    # The secrets went to the keyring, and no cookie value was printed.
    assert keyring_file(env).exists()
    status = jobterm(["auth", "status", "--json"], env)
    assert '"username": "demo"' in status.stdout
    assert cookies["_gitlab_session"] not in result.stdout + result.stderr


def test_firefox_session_store_of_a_closed_firefox(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    cookies = browser_session(sandbox, "bob")
    profile, _ = firefox_profile(tmp_path / "ff", "default", session=rows(cookies), running=False)
    result = jobterm(["login", sandbox.url, f"--from-browser=firefox:{profile}"], env)
    assert result.returncode == 0, result.stderr
    assert "as bob" in result.stdout
    assert "firefox" in result.stdout


def test_no_browser(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    env["HOME"] = str(tmp_path / "empty-home")
    result = jobterm(["login", sandbox.url, "--from-browser"], env)
    assert result.returncode == 14
    assert "no profile of a supported browser" in one_line(result.stderr)


def test_no_such_profile(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    result = login(sandbox, env, "--from-browser", f"chromium:{tmp_path / 'missing'}")
    assert result.returncode == 15
    assert "has no profile" in one_line(result.stderr)


def test_no_session_in_the_browser(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    profile = chromium_profile(
        tmp_path / "data", [("gitlab.example.com", "_gitlab_session", "x", "/")]
    )
    result = login(sandbox, env, "--from-browser", f"chromium:{profile}")
    assert result.returncode == 16
    line = one_line(result.stderr)
    assert "no 127.0.0.1" in line
    assert "30 s" in line


def test_rejected_session(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    dead = {"_gitlab_session": "0" * 32}
    profile = chromium_profile(tmp_path / "data", rows(dead))
    result = login(sandbox, env, "--from-browser", f"chromium:{profile}")
    assert result.returncode == 17
    assert "did not accept the session" in one_line(result.stderr)
    assert not keyring_file(env).exists()


def test_unreadable_store(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    (tmp_path / "data" / "Default").mkdir(parents=True)
    (tmp_path / "data" / "Default" / "Cookies").write_bytes(b"not sqlite" * 50)
    result = login(sandbox, env, "--from-browser", f"chromium:{tmp_path / 'data'}")
    assert result.returncode == 18
    one_line(result.stderr)


def test_wrong_key(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no Secret Service: as on a server
    cookies = browser_session(sandbox)
    profile = chromium_profile(tmp_path / "data", rows(cookies), prefix=b"v11", password=b"k")
    result = login(sandbox, env, "--from-browser", f"chromium:{profile}")
    assert result.returncode == 19
    line = one_line(result.stderr)
    assert "cannot decrypt" in line
    assert "Chromium Safe Storage" in line


@pytest.mark.parametrize("other", ["--cookie", "--ldap", "--password-stdin"])
def test_from_browser_excludes_other_ways_in(
    sandbox: SandboxInfo, tmp_path: Path, other: str
) -> None:
    env = auth_env_for(tmp_path / "a")
    result = login(sandbox, env, "--from-browser=chromium", other, "-u", "demo")
    assert result.returncode == 2


def test_unknown_browser_is_a_usage_error(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    result = login(sandbox, env, "--from-browser=netscape")
    assert result.returncode == 2
    assert "unknown browser" in one_line(result.stderr)


def test_from_browser_before_the_host(sandbox: SandboxInfo, tmp_path: Path) -> None:
    """`login --from-browser HOST`: the word after the option is the host, not a browser."""
    env = auth_env_for(tmp_path / "a")
    cookies = browser_session(sandbox)
    chromium_profile(Path(env["XDG_CONFIG_HOME"]) / "chromium", rows(cookies))
    result = jobterm(["login", "--from-browser", sandbox.url], env)
    assert result.returncode == 0, result.stderr
    result = jobterm(["login", "--from-browser", "chromium", sandbox.url], env)
    assert result.returncode == 0, result.stderr
