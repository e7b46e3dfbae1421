"""`jobterm login` against the sandbox: every way in, and every way it refuses."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pyotp

import signin_styles
from fixtures_auth import (
    auth_env_for,
    jobterm,
    keyring_file,
    login_stdin,
)
from fixtures_sandbox import MakeSandbox, SandboxInfo
from util import scaled

# Every test here runs against both page styles of the sandbox (classic, GitLab 18).
sandbox = signin_styles.sandbox
make_sandbox = signin_styles.make_sandbox
signin_style = signin_styles.signin_style


def login(sandbox: SandboxInfo, env: dict[str, str], *args: str, stdin: str = "") -> Any:
    return jobterm(["login", sandbox.url, *args], env, stdin=stdin)


def config_of(env: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(env["JOBTERM_CONFIG_DIR"]) / "config.json").read_text())
    return data


def status(env: dict[str, str], *args: str) -> Any:
    return jobterm(["auth", "status", "--json", *args], env)


def one_host_status(env: dict[str, str]) -> dict[str, Any]:
    result = status(env)
    hosts: list[dict[str, Any]] = json.loads(result.stdout)["hosts"]
    assert len(hosts) == 1
    return hosts[0]


def assert_one_line(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("jobterm: ")
    assert "Traceback" not in stderr


def browser_cookies(sandbox: SandboxInfo, username: str = "demo") -> dict[str, str]:
    """Sign in as a browser would (a plain HTTP client, not jobterm's code); its cookies."""
    with httpx.Client(base_url=sandbox.url, timeout=scaled(10)) as client:
        page = client.get("/users/sign_in")
        token = re.search(r'name="authenticity_token" value="([^"]+)"', page.text)
        assert token is not None
        user = sandbox.user(username)
        answer = client.post(
            "/users/sign_in",
            data={
                "authenticity_token": token.group(1),
                "user[login]": username,
                "user[password]": user["password"],
                "user[remember_me]": "1",
            },
        )
        assert answer.status_code == 302
        return dict(client.cookies.items())


def test_password_sign_in_stores_cookies_in_keyring_and_config(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    result = login(
        sandbox, auth_env, "--username", "demo", "--password-stdin", stdin="demo-password\n"
    )
    assert result.returncode == 0, result.stderr
    host = sandbox.url.split("://")[1]
    assert f"Signed in to {host} as demo" in result.stdout
    config = config_of(auth_env)
    assert config["default_host"] == host
    entry = config["hosts"][host]
    assert entry["username"] == "demo"
    assert entry["user_id"] == 1
    assert entry["secrets"] == "keyring"
    assert "demo-password" not in json.dumps(config)
    # The secrets went to the keyring, one entry for the host, never the password.
    stored = keyring_file(auth_env).read_text()
    assert "jobterm" in stored
    assert "demo-password" not in stored
    assert one_host_status(auth_env)["session"] == "valid"


def test_two_factor_with_totp(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    stdin = login_stdin(sandbox, "alice")
    result = login(sandbox, auth_env, "-u", "alice", "--password-stdin", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "as alice" in result.stdout
    assert one_host_status(auth_env)["session"] == "valid"


def test_two_factor_with_recovery_code_works_once(sandbox: SandboxInfo, tmp_path: Path) -> None:
    code = sandbox.user("alice")["recovery_codes"][0]
    first = auth_env_for(tmp_path / "one")
    result = login(
        sandbox, first, "-u", "alice", "--password-stdin", stdin=f"alice-password\n{code}\n"
    )
    assert result.returncode == 0, result.stderr
    again = auth_env_for(tmp_path / "two")
    result = login(
        sandbox, again, "-u", "alice", "--password-stdin", stdin=f"alice-password\n{code}\n"
    )
    assert result.returncode == 3
    assert "two-factor code was not accepted" in result.stderr
    assert_one_line(result.stderr)


def test_two_factor_code_missing_on_stdin(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    result = login(sandbox, auth_env, "-u", "alice", "--password-stdin", stdin="alice-password\n")
    assert result.returncode == 2
    assert "two-factor code" in result.stderr
    assert_one_line(result.stderr)


def test_email_verification(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    code = sandbox.admin("GET", "/users/erin")["verification_code"]
    result = login(
        sandbox, auth_env, "-u", "erin", "--password-stdin", stdin=f"erin-password\n{code}\n"
    )
    assert result.returncode == 0, result.stderr
    assert one_host_status(auth_env)["username"] == "erin"


def test_email_verification_wrong_code(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    result = login(
        sandbox, auth_env, "-u", "erin", "--password-stdin", stdin="erin-password\n000000x\n"
    )
    assert result.returncode == 3
    assert "verification code was not accepted" in result.stderr
    assert_one_line(result.stderr)


def test_ldap(sandbox: SandboxInfo, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "a")
    result = login(sandbox, env, "--ldap", "-u", "lee", "--password-stdin", stdin="lee-password\n")
    assert result.returncode == 0, result.stderr
    assert one_host_status(env)["username"] == "lee"
    env = auth_env_for(tmp_path / "b")
    result = login(
        sandbox,
        env,
        "--ldap-provider",
        "ldapmain",
        "-u",
        "lee",
        "--password-stdin",
        stdin="lee-password\n",
    )
    assert result.returncode == 0, result.stderr
    result = login(
        sandbox,
        env,
        "--ldap-provider",
        "corp",
        "-u",
        "lee",
        "--password-stdin",
        stdin="lee-password\n",
    )
    assert result.returncode == 2
    assert "no LDAP server 'corp'" in result.stderr
    assert "ldapmain" in result.stderr


def test_ldap_wrong_password_and_ldap_user_without_ldap(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    before = sandbox.admin("GET", "/users/lee")["failed_attempts"]
    result = login(sandbox, auth_env, "--ldap", "-u", "lee", "--password-stdin", stdin="nope\n")
    assert result.returncode == 3
    assert "wrong username or password" in result.stderr
    assert_one_line(result.stderr)
    assert sandbox.admin("GET", "/users/lee")["failed_attempts"] == before + 1


def test_wrong_password_is_never_retried(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    before = sandbox.admin("GET", "/users/demo")["failed_attempts"]
    result = login(sandbox, auth_env, "-u", "demo", "--password-stdin", stdin="wrong\n")
    assert result.returncode == 3
    assert "wrong username or password" in result.stderr
    assert "wrong\n" not in result.stderr.replace("wrong username", "")
    assert_one_line(result.stderr)
    assert sandbox.admin("GET", "/users/demo")["failed_attempts"] == before + 1
    assert not (Path(auth_env["JOBTERM_CONFIG_DIR"]) / "config.json").exists()


def test_lockout(make_sandbox: MakeSandbox, auth_env: dict[str, str]) -> None:
    sandbox = make_sandbox()
    with httpx.Client(base_url=sandbox.url, timeout=scaled(10)) as client:
        for _ in range(9):
            page = client.get("/users/sign_in")
            token = re.search(r'name="authenticity_token" value="([^"]+)"', page.text)
            assert token is not None
            client.post(
                "/users/sign_in",
                data={
                    "authenticity_token": token.group(1),
                    "user[login]": "bob",
                    "user[password]": "bad",
                },
            )
    result = login(sandbox, auth_env, "-u", "bob", "--password-stdin", stdin="bad\n")
    assert result.returncode == 3
    assert "locked" in result.stderr
    assert_one_line(result.stderr)
    # Locked: even the right password is refused, with the same clear line.
    result = login(sandbox, auth_env, "-u", "bob", "--password-stdin", stdin="bob-password\n")
    assert result.returncode == 3
    assert "account is locked" in result.stderr


def test_password_sign_in_disabled(make_sandbox: MakeSandbox, auth_env: dict[str, str]) -> None:
    sandbox = make_sandbox({"settings": {"password_authentication_enabled": False}})
    result = login(sandbox, auth_env, "-u", "demo", "--password-stdin", stdin="demo-password\n")
    assert result.returncode == 3
    assert "password sign-in is disabled" in result.stderr
    assert "--from-browser" in result.stderr
    assert_one_line(result.stderr)


def test_blocked_user_message(make_sandbox: MakeSandbox, auth_env: dict[str, str]) -> None:
    sandbox = make_sandbox(
        {"users": [{"username": "carl", "password": "carl-password", "state": "blocked"}]}
    )
    result = login(sandbox, auth_env, "-u", "carl", "--password-stdin", stdin="carl-password\n")
    assert result.returncode == 3, result.stderr
    assert "blocked" in result.stderr
    assert_one_line(result.stderr)


def test_cookie_import_in_each_form(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    cookies = browser_cookies(sandbox)
    session = cookies["_gitlab_session"]
    remember = cookies["remember_user_token"]
    forms = {
        "bare": session,
        "pair": f"_gitlab_session={session}",
        "header": f"Cookie: preferred_language=en; _gitlab_session={session}",
        "header-with-remember": (
            f"Cookie: _gitlab_session={session}; remember_user_token={remember}"
        ),
        "table-row": f"_gitlab_session\t{session}\t127.0.0.1\t/\tSession\t48\t✓",
        "two-lines": f"_gitlab_session={session}\nremember_user_token={remember}\n",
    }
    # Each import is checked with the server before it is stored, so success means the
    # cookie was read right.
    for form, text in forms.items():
        result = login(sandbox, auth_env, "--cookie", stdin=text)
        assert result.returncode == 0, (form, result.stderr)
        assert "as demo" in result.stdout
        assert session not in result.stdout + result.stderr
    state = one_host_status(auth_env)
    assert state["session"] == "valid"
    assert session not in json.dumps(state)


def test_cookie_import_refuses_a_dead_or_unusable_cookie(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    result = login(sandbox, auth_env, "--cookie", stdin="0123456789abcdef0123456789abcdef")
    assert result.returncode == 3
    assert "did not accept the _gitlab_session cookie" in result.stderr
    assert "0123456789abcdef" not in result.stderr
    assert_one_line(result.stderr)
    result = login(sandbox, auth_env, "--cookie", stdin="preferred_language=en")
    assert result.returncode == 2
    assert "no _gitlab_session cookie" in result.stderr


def test_token_login_from_gitlab_token_and_stdin(sandbox: SandboxInfo, tmp_path: Path) -> None:
    token = sandbox.user("demo")["token"]
    env = dict(auth_env_for(tmp_path / "env"), GITLAB_TOKEN=token)
    result = login(sandbox, env, "--token")
    assert result.returncode == 0, result.stderr
    assert "with a token" in result.stdout
    assert "to open a job terminal" in result.stdout
    assert token not in result.stdout + result.stderr
    env.pop("GITLAB_TOKEN")
    state = one_host_status(env)
    assert state["token"] == "valid"
    assert state["session"] == "none"
    text = jobterm(["auth", "status"], env).stdout
    assert "a token alone cannot open a job terminal" in text
    assert token not in text

    stdin_env = auth_env_for(tmp_path / "stdin")
    result = login(sandbox, stdin_env, "--token", stdin=token + "\n")
    assert result.returncode == 0, result.stderr
    result = login(sandbox, stdin_env, "--token", stdin="glpat-nottherighttokenatall\n")
    assert result.returncode == 3
    assert "did not accept the token" in result.stderr
    assert "glpat-nottherighttokenatall" not in result.stderr


def test_password_and_token_together(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    def sign_in_with_token_of(user: str) -> subprocess.CompletedProcess[str]:
        token = sandbox.user(user)["token"]
        args = ("-u", "demo", "--password-stdin", "--token")
        return login(sandbox, auth_env, *args, stdin=f"demo-password\n{token}\n")

    result = sign_in_with_token_of("demo")
    assert result.returncode == 0, result.stderr
    state = one_host_status(auth_env)
    assert (state["session"], state["token"]) == ("valid", "valid")
    # A token of somebody else is refused.
    result = sign_in_with_token_of("bob")
    assert result.returncode == 3
    assert "another user" in result.stderr


def test_no_keyring_backend_is_a_clear_error(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    env = dict(auth_env, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    before = sandbox.admin("GET", "/users/demo")
    result = login(sandbox, env, "-u", "demo", "--password-stdin", stdin="demo-password\n")
    assert result.returncode == 11
    assert "no usable keyring" in result.stderr
    assert "--insecure-storage" in result.stderr
    assert_one_line(result.stderr)
    # It failed before signing in: the server saw no attempt.
    after = sandbox.admin("GET", "/users/demo")
    assert (after["sessions"], after["failed_attempts"]) == (
        before["sessions"],
        before["failed_attempts"],
    )


def test_insecure_storage_file_is_private(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    env = dict(auth_env, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = login(
        sandbox,
        env,
        "-u",
        "demo",
        "--password-stdin",
        "--insecure-storage",
        stdin="demo-password\n",
    )
    assert result.returncode == 0, result.stderr
    secrets = Path(env["JOBTERM_CONFIG_DIR"]) / "secrets.json"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert (Path(env["JOBTERM_CONFIG_DIR"]) / "config.json").stat().st_mode & 0o777 == 0o600
    assert "_gitlab_session" in secrets.read_text()
    assert "demo-password" not in secrets.read_text()
    state = one_host_status(env)
    assert state["session"] == "valid"
    assert "secrets.json (mode 0600)" in state["storage"]
    # Logging out removes them from the file.
    assert jobterm(["logout"], env).returncode == 0
    assert "_gitlab_session" not in secrets.read_text()


def test_plain_http_refused_for_other_hosts(auth_env: dict[str, str]) -> None:
    result = jobterm(
        ["login", "http://gitlab.example.com", "-u", "demo", "--password-stdin"],
        auth_env,
        stdin="pw\n",
    )
    assert result.returncode == 2
    assert "refusing plain http" in result.stderr
    assert "--insecure-http" in result.stderr
    assert_one_line(result.stderr)


def test_debug_log_shows_traffic_but_no_secret(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    token = sandbox.user("alice")["token"]
    secret = sandbox.user("alice")["totp_secret"]
    code = pyotp.TOTP(secret).now()
    result = jobterm(
        ["--debug", "login", sandbox.url, "-u", "alice", "--password-stdin", "--token"],
        auth_env,
        stdin=f"alice-password\n{code}\n{token}\n",
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert "> POST" in log
    assert "/users/sign_in" in log
    stored = jobterm(["--debug", "auth", "status"], auth_env)
    log += stored.stderr + stored.stdout
    # The real secrets: password, code, token, and the cookies now in the keyring.
    import base64
    import configparser

    parser = configparser.ConfigParser()
    parser.read(keyring_file(auth_env))
    blob = json.loads(base64.b64decode("".join(parser["jobterm"][k] for k in parser["jobterm"])))
    secrets = ["alice-password", token, *blob["cookies"].values()]
    assert blob["token"] == token
    for value in secrets:
        assert value not in log, "a secret leaked into the --debug log"
    assert not re.search(r"authenticity_token=(?!\[REDACTED\])\w", log)


def test_cookie_import_renews_an_expired_session_with_remember_token(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    cookies = browser_cookies(sandbox)
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
    text = (
        f"_gitlab_session={cookies['_gitlab_session']}; "
        f"remember_user_token={cookies['remember_user_token']}"
    )
    result = login(sandbox, auth_env, "--cookie", stdin=text)
    assert result.returncode == 0, result.stderr
    assert one_host_status(auth_env)["session"] == "valid"
    # Without the remember-me cookie the expired session alone is refused.
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
    result = login(sandbox, auth_env, "--cookie", stdin=cookies["_gitlab_session"])
    assert result.returncode == 3


def test_instance_without_remember_me(make_sandbox: MakeSandbox, signed_in: Any) -> None:
    sandbox = make_sandbox({"settings": {"remember_me_enabled": False}})
    env = signed_in(sandbox)
    assert status(env).returncode == 0
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
    result = status(env)
    assert result.returncode == 3
    assert json.loads(result.stdout)["hosts"][0]["session"] == "expired"
