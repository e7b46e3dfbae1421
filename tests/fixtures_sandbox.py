"""Fixtures that run the real sandbox (`python -m jobterm sandbox --port 0 --json`).

    def test_x(sandbox):                  # one default sandbox per test module
        demo = sandbox.user("demo")       # {"username", "password", "token", ...}
        job = sandbox.job("build")        # {"id", "name", "project", "status", "web_url", ...}
        sandbox.admin("POST", f"/jobs/{job['id']}/finish", status="failed")

    def test_y(make_sandbox):             # a fresh one per call, configured
        sb = make_sandbox({"settings": {"pipelines_api": False}}, "--ping-interval", "1")

Each sandbox is stopped with SIGTERM at teardown, and must exit with status 0 in time.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from util import scaled


def to_toml(config: dict[str, Any]) -> str:
    """A small TOML writer for sandbox configs: tables, arrays of tables, scalars, lists and
    inline tables. None becomes "forever" for *_seconds keys (TOML has no null)."""
    lines: list[str] = []
    _write_table(lines, [], config)
    return "\n".join(lines) + "\n"


def _write_table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    nested = {}
    for key, value in table.items():
        if _is_section(path, value):
            nested[key] = value
        else:
            lines.append(f"{_key(key)} = {_value(key, value)}")
    for key, value in nested.items():
        full = ".".join(_key(p) for p in [*path, key])
        if isinstance(value, dict):
            lines += ["", f"[{full}]"]
            _write_table(lines, [*path, key], value)
        else:
            for item in value:
                lines += ["", f"[[{full}]]"]
                _write_table(lines, [*path, key], item)


def _is_section(path: list[str], value: Any) -> bool:
    """Top-level tables and every list of tables get their own [section]; tables inside
    entries (e.g. a job's variables) are written inline."""
    if isinstance(value, dict):
        return not path
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(key: str, value: Any) -> str:
    if value is None:
        if key.endswith("_seconds"):
            return '"forever"'
        raise TypeError(f"TOML has no null (key {key!r})")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(key, v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(k, v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML (key {key!r})")


@dataclass
class SandboxInfo:
    """A running sandbox process and what it printed."""

    url: str
    admin_token: str
    users: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    proc: subprocess.Popen[bytes]
    raw: dict[str, Any]
    stderr_path: Path = field(default=Path(os.devnull))
    _http: httpx.Client | None = field(default=None, repr=False)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def user(self, username: str) -> dict[str, Any]:
        for user in self.users:
            if user["username"] == username:
                return user
        raise KeyError(f"no user {username!r} in the sandbox")

    def job(self, name_or_id: str | int) -> dict[str, Any]:
        for job in self.jobs:
            if job["id"] == name_or_id or job["name"] == name_or_id or str(job["id"]) == name_or_id:
                return job
        raise KeyError(f"no job {name_or_id!r} in the sandbox")

    def terminal_url(self, name_or_id: str | int) -> str:
        return self.job(name_or_id)["web_url"].replace("http://", "ws://", 1) + "/terminal.ws"

    def admin_response(self, method: str, path: str, /, **body: Any) -> httpx.Response:
        if not path.startswith("/-/sandbox"):
            path = "/-/sandbox" + (path if path.startswith("/") else "/" + path)
        if self._http is None:  # one client: making one (its TLS context) is slow
            self._http = httpx.Client(timeout=scaled(10))
        return self._http.request(
            method,
            self.url + path,
            headers={"X-Sandbox-Token": self.admin_token},
            json=body if body else None,
        )

    def admin(self, method: str, path: str, /, **body: Any) -> Any:
        """Call the control API (/-/sandbox/...); the JSON answer, or AssertionError."""
        response = self.admin_response(method, path, **body)
        assert response.status_code < 400, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then wait; the exit status (a kill after `timeout` fails the test)."""
        if self._http is not None:
            self._http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(
                f"the sandbox did not exit within {scaled(timeout):g}s of SIGTERM; its stderr "
                "ends:\n" + self.stderr()[-4000:]
            )


def running_job(job_id: int, name: str, shell: list[str], **more: Any) -> dict[str, Any]:
    """A `[[jobs]]` entry: demo's running job in demo/webapp whose terminal runs `shell`."""
    return {
        "id": job_id,
        "project": "demo/webapp",
        "name": name,
        "user": "demo",
        "status": "running",
        "script_seconds": None,
        "shell": shell,
        **more,
    }


def launch_sandbox(
    config: dict[str, Any] | None, args: tuple[str, ...], workdir: Path
) -> SandboxInfo:
    argv = [sys.executable, "-m", "jobterm", "sandbox", "--port", "0", "--json"]
    if config:
        config_path = Path(tempfile.mkstemp(suffix=".toml", dir=workdir)[1])
        config_path.write_text(to_toml(config))
        argv += ["--config", str(config_path)]
    argv += list(args)
    stderr_path = Path(tempfile.mkstemp(suffix=".stderr", dir=workdir)[1])
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL
        )
    line = _first_line(proc, scaled(30))
    if not line:
        proc.kill()
        proc.wait()
        pytest.fail(f"the sandbox printed nothing; stderr:\n{stderr_path.read_text()}")
    raw = json.loads(line)
    return SandboxInfo(
        url=raw["url"],
        admin_token=raw["admin_token"],
        users=raw["users"],
        jobs=raw["jobs"],
        proc=proc,
        raw=raw,
        stderr_path=stderr_path,
    )


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return b""
    return proc.stdout.readline()


class _Sandboxes:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[SandboxInfo] = []

    def __call__(self, config: dict[str, Any] | None = None, *args: str) -> SandboxInfo:
        info = launch_sandbox(config, args, self.workdir)
        self.running.append(info)
        return info

    def close(self) -> None:
        codes = [(info, info.stop()) for info in self.running]
        for info, code in codes:
            assert code == 0, f"the sandbox exited with {code}; stderr:\n{info.stderr()}"


MakeSandbox = Callable[..., SandboxInfo]


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    """`make_sandbox(config=None, *args) -> SandboxInfo`: start a fresh sandbox."""
    sandboxes = _Sandboxes(tmp_path)
    yield sandboxes
    sandboxes.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    """One sandbox with the default world, shared by the tests of a module."""
    sandboxes = _Sandboxes(tmp_path_factory.mktemp("sandbox"))
    yield sandboxes()
    sandboxes.close()


def post_sign_in(
    client: httpx.Client, sandbox: SandboxInfo, username: str, remember: bool = False
) -> httpx.Response:
    """The sign-in form as a browser posts it: the page for its CSRF token, then the POST with
    `username`'s password (`client` is an httpx.Client on the sandbox's URL)."""
    page = client.get("/users/sign_in")
    token = re.search(r'name="authenticity_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return client.post(
        "/users/sign_in",
        data={
            "authenticity_token": token.group(1),
            "user[login]": username,
            "user[password]": sandbox.user(username)["password"],
            "user[remember_me]": "1" if remember else "0",
        },
    )
