"""The world a benchmark run measures: a sandbox GitLab on 127.0.0.1, signed in as `demo`.

Everything lives in one temporary directory (config, cache, secrets file, sandbox work), so a
run never touches the user's own jobterm set-up. The sandbox runs as its own process
(`jobterm sandbox --port 0 --json`), as a real GitLab would be, and is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def jobterm_argv() -> list[str]:
    """How a user runs jobterm: the console script of this environment."""
    script = BIN / "jobterm"
    return [str(script)] if script.exists() else [sys.executable, "-m", "jobterm"]


class Unavailable(Exception):
    """A part the benchmark needs is missing; the column reports n/a with this reason."""


class World:
    def __init__(self, config: str = "", tls: bool = False) -> None:
        """`config`: TOML for `jobterm sandbox --config` (more jobs, settings). `tls`: the
        sandbox serves https/wss with a certificate from a private CA (tests/tls_certs.py), as
        GitLab is served; jobterm trusts it through `login --ca-cert`, bare clients through
        SSL_CERT_FILE."""
        self.tmp = Path(tempfile.mkdtemp(prefix="jobterm-bench-"))
        self.config = config
        self.ca: Path | None = None
        self.tls = tls
        self.env = dict(os.environ)
        self.env.update(
            {
                "JOBTERM_CONFIG_DIR": str(self.tmp / "config"),
                "JOBTERM_CACHE_DIR": str(self.tmp / "cache"),
                "XDG_DATA_HOME": str(self.tmp / "data"),
                "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                "TERM": "xterm-256color",
                "LC_ALL": "C.UTF-8",
            }
        )
        # PYTHONDONTWRITEBYTECODE would make every run compile jobterm's sources again (an
        # installed jobterm has its bytecode): that measures the environment, not jobterm.
        for name in ("GITLAB_HOST", "JOBTERM_DEBUG", "GITLAB_TOKEN", "PYTHONDONTWRITEBYTECODE"):
            self.env.pop(name, None)
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._keyring_env: dict[str, str] | None = None

    # -- the sandbox --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0, config: Path | None = None) -> None:
        log = (self.tmp / "sandbox.log").open("wb")
        if config is None and self.config:  # the world's own (e.g. the fan-out jobs)
            config = self.tmp / "sandbox.toml"
            config.write_text(self.config)
        extra = ["--config", str(config)] if config is not None else []
        if self.tls:
            cert, key = self._certificates()
            extra += ["--tls-cert", str(cert), "--tls-key", str(key)]
        self.sandbox = subprocess.Popen(
            [*jobterm_argv(), "sandbox", "--port", "0", "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=log,
            env=self.env,
            cwd=self.tmp,
        )
        assert self.sandbox.stdout is not None
        ready, _, _ = select.select([self.sandbox.stdout], [], [], timeout)
        line = self.sandbox.stdout.readline() if ready else b""
        if not line:
            self.close()
            raise Unavailable("`jobterm sandbox --json` printed nothing")
        self.info = json.loads(line)
        self.sign_in()

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def job_url(self, job_id: int = 101) -> str:
        for job in self.info["jobs"]:
            if job["id"] == job_id:
                return str(job["web_url"])
        raise Unavailable(f"the sandbox has no job {job_id}")

    def sign_in(self) -> None:
        trust = ["--ca-cert", str(self.ca)] if self.ca is not None else []
        self._login(self.env, "--insecure-storage", *trust)

    def bare_env(self) -> dict[str, str]:
        """The environment of a bare client: the stored cookie, and trust in the private CA."""
        env = dict(self.env, JOBTERM_BENCH_COOKIE=self.cookie_header())
        if self.ca is not None:
            env["SSL_CERT_FILE"] = str(self.ca)
        return env

    def _certificates(self) -> tuple[Path, Path]:
        """A private CA and a certificate for 127.0.0.1 it signed: the tests' own."""
        sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
        from tls_certs import make_certs

        directory = self.tmp / "tls"
        directory.mkdir()
        certs = make_certs(directory)
        self.ca = certs.ca
        return certs.signed

    def keyring_env(self) -> dict[str, str]:
        """A second sign-in whose session lives in a keyring, as users keep it by default:
        keyrings.alt's file keyring under this world's directory (PYTHON_KEYRING_BACKEND
        names it, so that no desktop keyring of the machine is ever touched)."""
        if self._keyring_env is None:
            root = self.tmp / "keyring-user"
            env = dict(
                self.env,
                JOBTERM_CONFIG_DIR=str(root / "config"),
                JOBTERM_CACHE_DIR=str(root / "cache"),
                XDG_DATA_HOME=str(root / "data"),
            )
            self._login(env)
            self._keyring_env = env
        return self._keyring_env

    def _login(self, env: dict[str, str], *extra: str) -> None:
        password = next(u["password"] for u in self.info["users"] if u["username"] == "demo")
        argv = [*jobterm_argv(), "login", self.url, "--username", "demo", "--password-stdin"]
        done = subprocess.run(
            [*argv, *extra], input=password.encode(), env=env, capture_output=True, timeout=60
        )
        if done.returncode != 0:
            raise Unavailable(f"`jobterm login` failed ({done.returncode})")

    def cookie_header(self) -> str:
        """The session cookies `jobterm login` stored (the secrets file: --insecure-storage)."""
        data = json.loads((self.tmp / "config" / "secrets.json").read_text())
        cookies = data[self.host]["cookies"]
        return "; ".join(f"{k}={v}" for k, v in cookies.items())

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the sandbox's control API (/-/sandbox/...)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
            self.url + "/-/sandbox" + path,
            data=data,
            method=method,
            headers={
                "X-Sandbox-Token": self.info["admin_token"],
                "Content-Type": "application/json",
            },
        )
        trust = ssl.create_default_context(cafile=str(self.ca)) if self.ca else None
        with urllib.request.urlopen(request, timeout=10, context=trust) as answer:  # noqa: S310
            return json.loads(answer.read() or b"null")

    def wait_terminal_free(self, job_id: int = 101, timeout: float = 10.0) -> None:
        """One terminal per job: wait until the previous session has let go of the job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.control("GET", f"/jobs/{job_id}").get("terminal_attached"):
                return
            time.sleep(0.05)
        raise Unavailable(f"job {job_id}'s terminal stayed busy")

    def close(self) -> None:
        if self.sandbox is not None and self.sandbox.poll() is None:
            self.sandbox.send_signal(signal.SIGTERM)
            try:
                self.sandbox.wait(10)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()
                self.sandbox.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.close()
