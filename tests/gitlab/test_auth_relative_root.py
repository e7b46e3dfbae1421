"""An instance under a relative URL root (https://example.com/gitlab): sign-in, the REST API
and host lookup all keep the `/gitlab` prefix.

The sandbox serves at `/`, so a small reverse proxy puts it under `/gitlab`, rewriting what
GitLab itself would write with the prefix: redirect locations and form actions. The same
proxy can make a sign-in POST carry a stale CSRF token, to test the 422 path end to end.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures_auth import auth_env_for, jobterm
from fixtures_sandbox import SandboxInfo
from util import scaled

ROOT = "/gitlab"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


def proxy_handler(
    upstream: str, public: list[str], tamper: list[int]
) -> type[http.server.BaseHTTPRequestHandler]:
    """A prefixing proxy; the first `tamper[0]` sign-in POSTs get a stale CSRF token, as
    when a session expired between showing the form and posting it."""

    class Proxy(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            if not self.path.startswith(ROOT + "/"):
                self.send_error(404)
                return
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            if (
                body
                and self.command == "POST"
                and self.path.endswith("/users/sign_in")
                and tamper[0]
            ):
                tamper[0] -= 1
                body = re.sub(rb"authenticity_token=[^&]*", b"authenticity_token=stale", body)
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}
            }
            answer = httpx.request(
                self.command,
                upstream + self.path[len(ROOT) :],
                headers=headers,
                content=body,
                timeout=scaled(10),
            )
            content = answer.content
            if "html" in answer.headers.get("content-type", ""):
                content = content.replace(b'action="/', f'action="{ROOT}/'.encode())
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() in HOP_BY_HOP:
                    continue
                if name.lower() == "location":
                    value = value.replace(upstream, public[0] + ROOT)
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = do_PUT = _forward

    return Proxy


TAMPER = [0]


@pytest.fixture
def rooted(sandbox: SandboxInfo) -> Iterator[str]:
    """The sandbox, served at http://127.0.0.1:PORT/gitlab."""
    public: list[str] = []
    TAMPER[0] = 0
    handler = proxy_handler(sandbox.url, public, TAMPER)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    public.append(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield public[0] + ROOT
    finally:
        server.shutdown()
        server.server_close()


PROBE = """
import sys, json
from jobterm.env import Environment
from jobterm.gitlab.session import open_gitlab
with open_gitlab(Environment(), sys.argv[1] or None, need_web_session=True) as gl:
    job = gl.web_job("demo/webapp", 101)
    print(json.dumps({"name": gl.host.name, "base": gl.host.base_url,
                      "user": gl.user()["username"], "terminal": job.get("terminal_path")}))
"""


def test_sign_in_and_use_under_a_relative_root(rooted: str, tmp_path: Path) -> None:
    env = auth_env_for(tmp_path / "env")
    result = jobterm(
        ["login", rooted + "/", "-u", "demo", "--password-stdin"], env, stdin="demo-password\n"
    )
    assert result.returncode == 0, result.stderr
    name = rooted.split("://")[1]
    assert f"Signed in to {name} as demo" in result.stdout
    config = json.loads((Path(env["JOBTERM_CONFIG_DIR"]) / "config.json").read_text())
    assert config["hosts"][name]["base_url"] == rooted
    # The default host, the host name, and a job's URL all find the rooted instance.
    for host in ("", name, f"{rooted}/demo/webapp/-/jobs/101"):
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, host],
            env=env,
            capture_output=True,
            text=True,
            timeout=scaled(30),
        )
        assert probe.returncode == 0, probe.stderr
        answer = json.loads(probe.stdout)
        assert answer["name"] == name
        assert answer["base"] == rooted
        assert answer["user"] == "demo"
        assert answer["terminal"]


def test_stale_csrf_token_starts_over_once(
    rooted: str, sandbox: SandboxInfo, tmp_path: Path
) -> None:
    env = auth_env_for(tmp_path / "env")
    before = sandbox.admin("GET", "/users/demo")["failed_attempts"]
    TAMPER[0] = 1  # the first POST is refused with 422; jobterm fetches a fresh form once
    args = ["login", rooted, "-u", "demo", "--password-stdin"]
    result = jobterm(args, env, stdin="demo-password\n")
    assert result.returncode == 0, result.stderr
    TAMPER[0] = 2  # refused twice: one line, exit 9, and still no failed attempt counted
    result = jobterm(args, env, stdin="demo-password\n")
    assert result.returncode == 9
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "rejected the sign-in form's CSRF token" in lines[0]
    assert sandbox.admin("GET", "/users/demo")["failed_attempts"] == before
