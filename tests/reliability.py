"""Helpers of the reliability suite (tests/test_reliability_*.py).

What every failure test checks, whatever the fault: jobterm ends with its documented exit
code and one clear `jobterm: ...` line, no traceback, the local terminal's `stty -g` is what
it was, and no secret (password, token, cookie value) appears anywhere in what it printed.
"""

from __future__ import annotations

import io
import json
import random
import re
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures_auth import auth_env_for, jobterm, login_stdin
from util import scaled

PROMPT_WAIT = 20
ANSI_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def sign_in(sandbox: Any, root: Path, username: str = "demo") -> dict[str, str]:
    """Sign in once for a whole module (the `signed_in` fixture does it for every test)."""
    env = auth_env_for(root, sandbox.url)
    args = ["login", sandbox.url, "--username", username, "--password-stdin"]
    result = jobterm(args, env, stdin=login_stdin(sandbox, username))
    assert result.returncode == 0, result.stderr
    return env


Faults = Callable[..., None]


# Fixtures of the reliability modules: each imports them by name (`from reliability import
# faults, signed_in_env`), so that `signed_in_env` there is signed in once per module.


@pytest.fixture(scope="module")
def signed_in_env(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`demo`, signed in once for this module's tests."""
    return sign_in(sandbox, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def faults(sandbox: Any) -> Iterator[Faults]:
    """`faults(**settings)`: the terminal of job 101 misbehaves so, for this test only (the
    REST faults a test adds end with it too)."""
    wait_terminal_free(sandbox)

    def put(**settings: Any) -> None:
        sandbox.admin("PUT", "/jobs/101/terminal/faults", **settings)

    yield put
    sandbox.admin("DELETE", "/terminal/faults")
    sandbox.admin("DELETE", "/faults")
    wait_terminal_free(sandbox)


def start_attach(spawn_jobterm: Any, env: dict[str, str], job: str = "101", *extra: str) -> Any:
    """`jobterm attach JOB --project demo/webapp` in a PTY, everything it shows logged."""
    run = spawn_jobterm(["attach", job, "--project", "demo/webapp", *extra], env)
    run.child.logfile_read = io.BytesIO()
    return run


def start_session(spawn_jobterm: Any, env: dict[str, str], *extra: str) -> Any:
    """`start_attach`, then `attached` and `ready`: a session whose shell answers."""
    run = start_attach(spawn_jobterm, env, "101", *extra)
    attached(run)
    ready(run)
    return run


def attached(run: Any) -> None:
    run.child.expect("attached to job", timeout=scaled(PROMPT_WAIT))


def ready(run: Any) -> None:
    """Wait until the job's shell answers."""
    token = "".join(random.choices(string.ascii_lowercase, k=10))
    run.child.send(f"echo ready-{token}-$((40+2))\r")
    run.child.expect(f"ready-{token}-42", timeout=scaled(PROMPT_WAIT))


def shown(run: Any) -> bytes:
    """Everything jobterm (and the wrapper shell) showed on the terminal so far."""
    log = run.child.logfile_read
    assert isinstance(log, io.BytesIO)
    return log.getvalue()


def jobterm_lines(text: bytes) -> list[str]:
    """The lines jobterm printed about itself (its stderr lines start with `jobterm:`)."""
    plain = ANSI_CSI.sub("", text.decode("utf-8", "replace"))  # what a terminal shows
    lines = plain.replace("\r", "\n").split("\n")
    return [line.strip() for line in lines if line.strip().startswith("jobterm:")]


def closing_line(run: Any) -> str:
    """The one line jobterm ended with; asserts there is exactly one, and no traceback."""
    text = shown(run)
    assert b"Traceback" not in text, text[-2000:]
    lines = [line for line in jobterm_lines(text) if "attached to job" not in line]
    assert len(lines) == 1, (lines, text[-400:])
    return lines[0]


def secrets_of(env: dict[str, str], sandbox: Any, username: str = "demo") -> list[str]:
    """Every secret a signed-in jobterm user has: password, token, stored cookie values."""
    user = sandbox.user(username)
    found = [user["password"], user["token"]]
    found += stored_cookie_values(env)
    return [s for s in found if s and len(s) >= 8]


def stored_cookie_values(env: dict[str, str]) -> list[str]:
    """Cookie values jobterm keeps (keyrings.alt's plaintext file, or --insecure-storage)."""
    values: list[str] = []
    secrets_file = Path(env["JOBTERM_CONFIG_DIR"]) / "secrets.json"
    blobs: list[str] = []
    if secrets_file.exists():
        blobs += [json.dumps(v) for v in json.loads(secrets_file.read_text()).values()]
    keyring_file = Path(env["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg"
    if keyring_file.exists():
        import base64
        import configparser

        parser = configparser.RawConfigParser()
        parser.read(keyring_file)
        for section in parser.sections():
            for _, value in parser.items(section):
                blobs.append(base64.b64decode(value).decode("utf-8", "replace"))
    for blob in blobs:
        try:
            data = json.loads(blob)
        except ValueError:
            continue
        if isinstance(data, dict):
            values += [str(v) for v in (data.get("cookies") or {}).values()]
            if data.get("token"):
                values.append(str(data["token"]))
    return values


def assert_no_secrets(text: bytes | str, secrets: list[str]) -> None:
    data = text if isinstance(text, str) else text.decode("utf-8", "replace")
    assert secrets, "no secrets to look for: the check would prove nothing"
    for secret in secrets:
        assert secret not in data, "a secret was printed"


def wait_terminal_free(sandbox: Any, job_id: int = 101, timeout: float = 10) -> None:
    """One terminal per job: wait until the last session let go of it."""
    deadline = time.monotonic() + scaled(timeout)
    while sandbox.admin("GET", f"/jobs/{job_id}").get("terminal_attached"):
        assert time.monotonic() < deadline, f"job {job_id}'s terminal stayed attached"
        time.sleep(0.05)


def vm_kb(pid: int, key: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} for {pid}")
