"""Review findings on sign-in and the GitLab client, each checked against the sandbox."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures_auth import jobterm
from fixtures_sandbox import SandboxInfo
from jobterm.core.cookies import CookieStore
from jobterm.core.hosts import parse_host
from jobterm.errors import JobtermError
from jobterm.gitlab.api import GitLab
from jobterm.gitlab.http import WebClient, make_client


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


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the response its server's `answer` says; keeps the cookies."""

    def do_GET(self) -> None:
        server: Any = self.server
        server.cookies.append(self.headers.get("Cookie"))
        status, headers, body = server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def two_origins() -> Iterator[tuple[Any, Any]]:
    servers = []
    for _ in range(2):
        server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.cookies = []
        server.answer = (200, {"Content-Type": "text/html"}, b"<html></html>")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_cookies_never_follow_a_redirect_to_another_origin(two_origins: tuple[Any, Any]) -> None:
    # GitLab behind a TLS proxy with a wrong external_url answers with http:// Locations; a
    # redirect elsewhere must not carry the session and remember-me cookies there.
    gitlab_server, elsewhere = two_origins
    other = f"http://127.0.0.1:{elsewhere.server_address[1]}"
    gitlab_server.answer = (302, {"Location": f"{other}/dashboard/projects"}, b"")
    host = parse_host(f"http://127.0.0.1:{gitlab_server.server_address[1]}")
    cookies = CookieStore.of({"_gitlab_session": "s3ssion", "remember_user_token": "r3member"})
    gitlab = GitLab(WebClient(host, make_client(host), cookies))
    with gitlab, pytest.raises(JobtermError) as caught:
        gitlab.csrf_token()
    assert gitlab_server.cookies == ["_gitlab_session=s3ssion; remember_user_token=r3member"]
    assert elsewhere.cookies == []
    assert "another address" in caught.value.message


def test_proxies_in_the_environment_are_not_used_for_this_machine(
    sandbox: SandboxInfo, signed_in: Any
) -> None:
    # REST already bypasses proxies for loopback hosts (a proxy cannot reach this machine's
    # loopback); the terminal WebSocket must do the same, or attach fails behind a proxy.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = dict(signed_in(sandbox), HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead)
    env.update(http_proxy=dead, https_proxy=dead, all_proxy=dead)
    result = jobterm(["exec", "101", "-p", "demo/webapp", "--", "echo", "through"], env)
    assert (result.returncode, result.stdout) == (0, "through\n"), result.stderr


def add_token_of(sandbox: SandboxInfo, env: dict[str, str], user: str) -> dict[str, Any]:
    """`jobterm login --token` with `user`'s token (GITLAB_TOKEN); the host's status after."""
    token = sandbox.user(user)["token"]
    result = jobterm(["login", sandbox.url, "--token"], dict(env, GITLAB_TOKEN=token))
    assert result.returncode == 0, result.stderr
    return status_of(env)


def status_of(env: dict[str, str]) -> dict[str, Any]:
    result = jobterm(["auth", "status", "--json"], env)
    hosts: list[dict[str, Any]] = json.loads(result.stdout)["hosts"]
    return hosts[0]


def test_adding_a_token_keeps_the_web_session_and_signing_in_keeps_the_token(
    sandbox: SandboxInfo, signed_in: Any
) -> None:
    # `--token` "also keeps" a token: it must not throw away the session a password sign-in
    # stored (leaving a host that cannot attach), nor a later sign-in the stored token.
    env = signed_in(sandbox)
    state = add_token_of(sandbox, env, "demo")
    assert (state["session"], state["token"]) == ("valid", "valid")
    result = jobterm(
        ["login", sandbox.url, "-u", "demo", "--password-stdin"], env, stdin="demo-password\n"
    )
    assert result.returncode == 0, result.stderr
    state = status_of(env)
    assert (state["session"], state["token"]) == ("valid", "valid")


def test_a_token_of_another_user_does_not_keep_the_session(
    sandbox: SandboxInfo, signed_in: Any
) -> None:
    env = signed_in(sandbox)
    state = add_token_of(sandbox, env, "bob")
    assert (state["username"], state["session"], state["token"]) == ("bob", "none", "valid")


def test_the_terminal_goes_to_the_host_signed_in_to(sandbox: SandboxInfo, signed_in: Any) -> None:
    # The job's web_url names the instance's external_url, which may differ from the address
    # the user signed in to (an alias, or http:// behind a TLS proxy): the session cookie
    # must go only where REST goes, never to a host or scheme the user did not choose.
    alias = sandbox.url.replace("127.0.0.1", "localhost")
    env = signed_in({"url": alias, "users": sandbox.users})
    result = jobterm(["--debug", "exec", "101", "-p", "demo/webapp", "--", "echo", "hi"], env)
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    assert f"connecting to {alias.replace('http', 'ws')}/demo/webapp/-/jobs/101" in result.stderr
