"""`jobterm sandbox` as a command: its output, its address, its config file, its exit."""

from __future__ import annotations

import errno
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.typing import Subprotocol

from fixtures_sandbox import MakeSandbox, SandboxInfo, launch_sandbox, to_toml
from util import process_gone, scaled


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobterm", *args],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        stdin=subprocess.DEVNULL,
    )


def test_json_output_shape(sandbox: SandboxInfo) -> None:
    raw = sandbox.raw
    assert set(raw) >= {"url", "admin_token", "users", "jobs"}
    assert raw["url"].startswith("http://127.0.0.1:")
    for user in raw["users"]:
        assert {"username", "password", "token"} <= set(user)
        assert user["token"].startswith("glpat-")
    alice = sandbox.user("alice")
    assert len(alice["totp_secret"]) >= 16
    assert len(alice["recovery_codes"]) == 10
    assert "totp_secret" not in sandbox.user("demo")
    assert sandbox.user("erin")["verification_code"].isdigit()
    for job in raw["jobs"]:
        assert {"id", "name", "project", "status", "user", "web_url"} <= set(job)
        assert job["web_url"] == f"{raw['url']}/{job['project']}/-/jobs/{job['id']}"
    statuses = {job["status"] for job in raw["jobs"]}
    assert {"running", "pending", "success", "failed"} <= statuses
    assert {job["user"] for job in raw["jobs"]} >= {"demo", "bob"}
    assert any(not job["session_server"] for job in raw["jobs"])


def test_json_output_is_one_line(tmp_path: Path) -> None:
    info = launch_sandbox(None, (), tmp_path)
    try:
        assert info.proc.stdout is not None
        info.proc.send_signal(signal.SIGTERM)
        rest, _ = info.proc.communicate(timeout=scaled(10))
        assert rest == b""  # nothing after the one JSON line
        assert info.proc.returncode == 0
    finally:
        info.stop()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (Linux /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if int(port_hex, 16) == port and state == "0A":
                found.add(address)
    return found


def test_binds_loopback_only(sandbox: SandboxInfo) -> None:
    port = urlsplit(sandbox.url).port
    assert port is not None
    if Path("/proc/net/tcp").exists():
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    with socket.socket() as other:  # another loopback address is not served
        other.settimeout(scaled(5))
        assert other.connect_ex(("127.0.0.2", port)) in (errno.ECONNREFUSED, errno.ENETUNREACH)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_exits_cleanly_on_signals(make_sandbox: MakeSandbox, signum: int) -> None:
    sb = make_sandbox()
    sb.proc.send_signal(signum)
    assert sb.proc.wait(scaled(10)) == 0
    assert "Traceback" not in sb.stderr()


def test_text_output_names_url_and_demo_credentials(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobterm", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "http://127.0.0.1:" in text
        assert "demo" in text
        assert "demo-password" in text
        assert "/demo/webapp/-/jobs/101" in text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(scaled(10)) == 0


def test_config_file_changes_the_world(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(
        {
            "users": [
                {"username": "carol", "password": "carol-pass", "totp_secret": "JBSWY3DPEHPK3PXP"}
            ],
            "projects": [{"path": "carol/deep/sub/app", "members": ["carol"]}],
            "jobs": [
                {
                    "project": "carol/deep/sub/app",
                    "name": "carol:job",
                    "user": "carol",
                    "shell": ["dash"],
                },
                {"id": 101, "status": "success"},
            ],
        },
        "--ping-interval",
        "2.5",
        "--session-timeout",
        "12",
    )
    carol = sb.user("carol")
    assert carol["totp_secret"] == "JBSWY3DPEHPK3PXP"
    job = sb.job("carol:job")
    assert job["project"] == "carol/deep/sub/app"
    assert job["status"] == "running"
    assert job["shell"] == ["dash"]
    assert sb.job(101)["status"] == "success"
    assert sb.job("deploy")["user"] == "bob"  # defaults stay
    settings = sb.admin("PATCH", "/settings")
    assert settings["ping_interval"] == 2.5
    assert settings["session_timeout"] == 12


def test_config_without_defaults(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(
        {
            "defaults": False,
            "users": [{"username": "solo", "password": "pw"}],
            "runners": [{"id": 1, "description": "mine"}],
            "projects": [{"path": "solo/app", "members": ["solo"]}],
            "jobs": [{"project": "solo/app", "name": "only", "user": "solo", "runner": 1}],
        }
    )
    assert [u["username"] for u in sb.users] == ["solo"]
    assert [j["name"] for j in sb.jobs] == ["only"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is = = not toml", "is not valid TOML"),
        ('[[users]]\nusername = "x"\n', "needs a password"),
        ('[settings]\nping_interval = "often"\n', "wrong type"),
        ('[[jobs]]\nid = 101\nuser = "ghost"\n', "unknown user"),
        ("[oops]\n", "unknown config section"),
    ],
)
def test_bad_config_is_one_line_and_exit_11(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run("sandbox", "--port", "0", "--config", str(path))
    assert result.returncode == 11, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_config_file(tmp_path: Path) -> None:
    result = run("sandbox", "--port", "0", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 11
    assert "cannot read" in result.stderr


def test_busy_port_is_a_clear_error(sandbox: SandboxInfo) -> None:
    port = str(urlsplit(sandbox.url).port)
    result = run("sandbox", "--port", port)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_the_config_format() -> None:
    result = run("sandbox", "--help")
    assert result.returncode == 0
    for word in ("--json", "--config", "[[users]]", "[[jobs]]", "session_expire_delay", "faults"):
        assert word in result.stdout, word


def test_toml_writer_round_trips() -> None:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    config = {
        "defaults": True,
        "settings": {"ping_interval": 1.5, "faults": [{"kind": "html", "times": 1}]},
        "jobs": [
            {
                "id": 7,
                "shell": ["busybox", "sh"],
                "variables": {"A": 'x "y"'},
                "script_seconds": None,
            }
        ],
    }
    parsed = tomllib.loads(to_toml(config))
    assert parsed["settings"]["faults"] == [{"kind": "html", "times": 1}]
    assert parsed["jobs"][0]["variables"] == {"A": 'x "y"'}
    assert parsed["jobs"][0]["script_seconds"] == "forever"


def _sign_in_cookie(sb: SandboxInfo, username: str) -> str:
    with httpx.Client(base_url=sb.url, timeout=scaled(10)) as c:
        page = c.get("/users/sign_in")
        token = re.search(r'name="authenticity_token" value="([^"]+)"', page.text)
        assert token
        form = {
            "authenticity_token": token.group(1),
            "user[login]": username,
            "user[password]": sb.user(username)["password"],
        }
        assert c.post("/users/sign_in", data=form).status_code == 302
        return f"_gitlab_session={c.cookies['_gitlab_session']}"


def test_stopping_ends_every_shell(make_sandbox: MakeSandbox) -> None:
    from websockets.sync.client import connect

    sb = make_sandbox()
    cookie = _sign_in_cookie(sb, "demo")
    with connect(
        sb.terminal_url("build"),
        subprotocols=[Subprotocol("terminal.gitlab.com")],
        additional_headers={"Cookie": cookie},
        open_timeout=scaled(10),
    ) as ws:
        ws.send(b"echo PID=$$\n")
        output = b""
        while (found := re.search(rb"PID=(\d+)", output)) is None:
            message = ws.recv(timeout=scaled(10))
            output += message if isinstance(message, bytes) else message.encode()
        pid = int(found.group(1))
        assert Path(f"/proc/{pid}").exists()
        sb.proc.send_signal(signal.SIGTERM)
        assert sb.proc.wait(scaled(10)) == 0
    assert process_gone(pid, within=5)
