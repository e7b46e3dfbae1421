"""Staying signed in: session checks, remember-me renewal, logout, auth status, and the one-line
errors every command gets from the HTTP layer (HTML for JSON, 5xx, 429, network, TLS)."""

from __future__ import annotations

import base64
import configparser
import http.server
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pyotp
import pytest

from fixtures_auth import SignedIn, auth_env_for, jobterm, keyring_file
from fixtures_sandbox import MakeSandbox, SandboxInfo
from tls_certs import make_certs
from util import scaled

PROBE = """
import sys
from jobterm.boundary import format_error
from jobterm.env import Environment
from jobterm.errors import JobtermError
from jobterm.gitlab.session import open_gitlab
try:
    with open_gitlab(Environment(), None, need_web_session=sys.argv[1] == "web") as gl:
        print(gl.user()["username"], bool(gl.cookie_header()), gl.ssl_context() is None)
except JobtermError as exc:
    sys.stderr.write(format_error(exc) + "\\n")
    sys.exit(int(exc.exit_code))
"""


def probe(env: dict[str, str], need: str = "web") -> subprocess.CompletedProcess[str]:
    """What attach/exec do first: open_gitlab, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, need],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )


def stored(env: dict[str, str]) -> dict[str, Any]:
    """The secrets in the keyring file backend (read as a thief would)."""
    parser = configparser.ConfigParser()
    parser.read(keyring_file(env))
    if not parser.has_section("jobterm") or not list(parser["jobterm"]):
        return {}
    (key,) = list(parser["jobterm"])
    data: dict[str, Any] = json.loads(base64.b64decode(parser["jobterm"][key]))
    return data


def status(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = jobterm(["auth", "status", "--json"], env)
    return result.returncode, json.loads(result.stdout)["hosts"][0]


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def demo_env(sandbox: SandboxInfo, signed_in: SignedIn) -> dict[str, str]:
    return signed_in(sandbox)


def test_probe_gets_a_ready_client(demo_env: dict[str, str]) -> None:
    result = probe(demo_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["demo", "True", "True"]


def test_expired_session_is_renewed_and_saved(
    sandbox: SandboxInfo, demo_env: dict[str, str]
) -> None:
    before = stored(demo_env)["cookies"]
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
    code, state = status(demo_env)
    assert (code, state["session"]) == (0, "renewed")
    after = stored(demo_env)["cookies"]
    assert after["_gitlab_session"] != before["_gitlab_session"]
    # The renewed session is the one kept: the next check finds it valid as it is.
    code, state = status(demo_env)
    assert (code, state["session"]) == (0, "valid")
    assert stored(demo_env)["cookies"]["_gitlab_session"] == after["_gitlab_session"]
    assert probe(demo_env).returncode == 0


def test_renewal_failing_says_to_sign_in_again(
    sandbox: SandboxInfo, demo_env: dict[str, str]
) -> None:
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=True)
    result = probe(demo_env)
    assert result.returncode == 3
    host = sandbox.url.split("://")[1]
    assert one_line(result.stderr) == (
        f"jobterm: session for {host} expired (run `jobterm login {host}`)"
    )
    code, state = status(demo_env)
    assert (code, state["session"]) == (3, "expired")
    human = jobterm(["auth", "status"], demo_env)
    assert f"run `jobterm login {host}`" in human.stdout


def test_logout_revokes_on_server_and_removes_secrets(
    sandbox: SandboxInfo, demo_env: dict[str, str]
) -> None:
    cookies = stored(demo_env)["cookies"]
    result = jobterm(["logout"], demo_env)
    assert result.returncode == 0, result.stderr
    assert "Signed out of" in result.stdout
    assert stored(demo_env) == {}
    config = json.loads((Path(demo_env["JOBTERM_CONFIG_DIR"]) / "config.json").read_text())
    assert config["hosts"] == {}
    assert config["default_host"] is None
    # On the server: the session and the remember-me token are dead.
    for name in ("_gitlab_session", "remember_user_token"):
        answer = httpx.get(f"{sandbox.url}/api/v4/user", cookies={name: cookies[name]})
        assert answer.status_code == 401, name
    result = probe(demo_env)
    assert result.returncode == 3
    assert "not signed in" in result.stderr


def test_secrets_lost_from_the_keyring(demo_env: dict[str, str]) -> None:
    keyring_file(demo_env).unlink()
    result = probe(demo_env)
    assert result.returncode == 3
    assert "no stored session for" in one_line(result.stderr)
    assert "jobterm login" in result.stderr


def test_logout_when_the_server_is_gone_still_forgets(
    make_sandbox: MakeSandbox, signed_in: SignedIn
) -> None:
    sandbox = make_sandbox()
    env = signed_in(sandbox)
    sandbox.stop()
    result = jobterm(["logout"], env)
    assert result.returncode == 0
    assert "warning: could not sign out" in result.stderr
    assert stored(env) == {}


def test_auth_status_shows_no_secret(sandbox: SandboxInfo, auth_env: dict[str, str]) -> None:
    token = sandbox.user("demo")["token"]
    result = jobterm(
        ["login", sandbox.url, "-u", "demo", "--password-stdin", "--token"],
        auth_env,
        stdin=f"demo-password\n{token}\n",
    )
    assert result.returncode == 0, result.stderr
    secrets = [token, *stored(auth_env)["cookies"].values()]
    outputs = []
    for args in (["auth", "status"], ["auth", "status", "--json"], ["--debug", "auth", "status"]):
        result = jobterm(args, auth_env)
        assert result.returncode == 0, result.stderr
        for value in secrets:
            assert value not in result.stdout + result.stderr
        outputs.append(result.stdout)
    text = outputs[0]
    assert "user:     demo" in text
    assert "session:  valid" in text
    assert "token:    valid" in text
    assert "keyring (keyrings.alt.file.PlaintextKeyring)" in text


def test_token_alone_cannot_attach(sandbox: SandboxInfo, tmp_path: Path) -> None:
    token = sandbox.user("demo")["token"]
    env = auth_env_for(tmp_path / "stored")
    assert jobterm(["login", sandbox.url, "--token"], env, stdin=token + "\n").returncode == 0
    rest = probe(env, "rest")
    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.split()[:2] == ["demo", "False"]
    web = probe(env, "web")
    assert web.returncode == 3
    line = one_line(web.stderr)
    assert "a token alone cannot open a job terminal" in line
    assert "--cookie" in line
    # GITLAB_TOKEN with no login at all: REST works, the terminal does not.
    bare = dict(auth_env_for(tmp_path / "bare", sandbox.url), GITLAB_TOKEN=token)
    assert probe(bare, "rest").returncode == 0
    web = probe(bare, "web")
    assert web.returncode == 3
    assert "a token alone cannot open a job terminal" in web.stderr
    assert token not in web.stderr


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        ({"kind": "html"}, 9, "with an HTML page where GitLab's API sends JSON"),
        ({"kind": "server_error", "status": 502}, 9, "failed with 502"),
        ({"kind": "rate_limit", "retry_after": 7}, 9, "wait 7 seconds"),
        ({"kind": "sign_in_redirect"}, 3, "not signed in"),
    ],
)
def test_server_trouble_is_one_line_and_a_distinct_code(
    sandbox: SandboxInfo, demo_env: dict[str, str], fault: dict[str, Any], code: int, words: str
) -> None:
    sandbox.admin("POST", "/faults", **fault)
    try:
        result = probe(demo_env)
    finally:
        sandbox.admin("DELETE", "/faults")
    assert result.returncode == code, result.stderr
    assert words in one_line(result.stderr)


def test_network_error_is_one_line(auth_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = jobterm(
        ["login", f"http://127.0.0.1:{port}", "-u", "demo", "--password-stdin"],
        auth_env,
        stdin="pw\n",
    )
    assert result.returncode == 8
    assert f"cannot connect to http://127.0.0.1:{port}" in one_line(result.stderr)


def test_broken_config_is_a_config_error(auth_env: dict[str, str]) -> None:
    path = Path(auth_env["JOBTERM_CONFIG_DIR"]) / "config.json"
    path.write_text("{not json")
    result = jobterm(["auth", "status"], auth_env)
    assert result.returncode == 11
    assert str(path) in one_line(result.stderr)


def test_interactive_prompts_hide_the_password(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    env = dict(auth_env, PROMPT_TOOLKIT_NO_CPR="1")  # nobody answers cursor position queries
    child = pexpect.spawn(
        sys.executable,
        ["-m", "jobterm", "login", sandbox.url],
        env=env,
        timeout=scaled(20),
        encoding="utf-8",
    )
    try:
        child.expect("Username:")
        child.sendline("alice")
        child.expect("Password:")
        child.sendline("alice-password")
        child.expect(r"Two-factor code \(or a recovery code\):")
        shown = child.before
        child.sendline(pyotp.TOTP(sandbox.user("alice")["totp_secret"]).now())
        child.expect("Signed in to .* as alice")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert "alice-password" not in shown
    assert "alice-password" not in (child.before or "")
    assert child.exitstatus == 0


def test_no_terminal_and_no_password_stdin_is_a_usage_error(
    sandbox: SandboxInfo, auth_env: dict[str, str]
) -> None:
    result = jobterm(["login", sandbox.url, "-u", "demo"], auth_env, stdin="demo-password\n")
    assert result.returncode == 2
    assert "--password-stdin" in one_line(result.stderr)


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: (its URL, the cert)."""
    cert, key = make_certs(tmp_path_factory.mktemp("tls")).self_signed
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_untrusted_certificate(tls_server: tuple[str, Path], auth_env: dict[str, str]) -> None:
    url, cert = tls_server
    args = ["login", url, "-u", "demo", "--password-stdin"]
    result = jobterm(args, auth_env, stdin="pw\n")
    assert result.returncode == 8
    line = one_line(result.stderr)
    assert "TLS certificate of 127.0.0.1" in line
    assert "--ca-cert" in line
    # Trusted through --ca-cert or SSL_CERT_FILE, TLS works and the next problem shows: this
    # server is no GitLab (its answer to GET /users/sign_in is 501).
    for extra, env in (
        (["--ca-cert", str(cert)], auth_env),
        ([], dict(auth_env, SSL_CERT_FILE=str(cert))),
    ):
        result = jobterm([*args, *extra], env, stdin="pw\n")
        assert "TLS" not in result.stderr, result.stderr
        assert "501" in one_line(result.stderr)
