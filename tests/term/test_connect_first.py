"""`exec` connects first: on the happy path the WebSocket upgrade is the one and only HTTP
request (counted by the sandbox's request journal); REST is asked only when the handshake is
refused, to say why, or to renew an expired session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures_auth import SignedIn, jobterm
from fixtures_sandbox import MakeSandbox, SandboxInfo

UPGRADE = {"method": "GET", "path": "/demo/webapp/-/jobs/101/terminal.ws", "websocket": True}


def requests_of(sandbox: SandboxInfo) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sandbox.admin("GET", "/requests")["requests"]
    return found


@pytest.fixture
def world(make_sandbox: MakeSandbox, signed_in: SignedIn) -> tuple[SandboxInfo, dict[str, str]]:
    sandbox = make_sandbox()
    return sandbox, signed_in(sandbox)


def test_the_upgrade_is_the_only_request(world: tuple[SandboxInfo, dict[str, str]]) -> None:
    sandbox, env = world
    web_url = sandbox.job(101)["web_url"]
    for ref in ([web_url], ["demo/webapp#101"], ["101", "--project", "demo/webapp"]):
        sandbox.admin("DELETE", "/requests")
        done = jobterm(["exec", *ref, "--", "true"], env)
        assert done.returncode == 0, done.stderr
        assert requests_of(sandbox) == [UPGRADE], ref


def test_a_refused_handshake_is_explained_by_rest(
    world: tuple[SandboxInfo, dict[str, str]],
) -> None:
    sandbox, env = world
    sandbox.admin("DELETE", "/requests")
    done = jobterm(["exec", "demo/webapp#105", "--", "true"], env)
    assert done.returncode == 255
    assert "job 105 'unit' already finished: success" in done.stderr
    seen = requests_of(sandbox)
    assert seen[0]["websocket"]
    assert seen[0]["path"].endswith("/jobs/105/terminal.ws")
    assert any(r["path"].startswith("/api/v4/") for r in seen[1:])  # asked why, after


def test_an_expired_session_is_renewed_then_connects(
    world: tuple[SandboxInfo, dict[str, str]],
) -> None:
    sandbox, env = world
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
    sandbox.admin("DELETE", "/requests")
    done = jobterm(["exec", "demo/webapp#101", "--", "echo", "renewed"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "renewed\n"
    upgrades = [r for r in requests_of(sandbox) if r["websocket"]]
    assert len(upgrades) == 2  # refused with the old cookie, accepted with the renewed one
    sandbox.admin("DELETE", "/requests")
    again = jobterm(["exec", "demo/webapp#101", "--", "true"], env)
    assert again.returncode == 0, again.stderr
    assert requests_of(sandbox) == [UPGRADE]  # the renewed cookie was kept


def test_an_expired_session_without_remember_me_says_sign_in(
    world: tuple[SandboxInfo, dict[str, str]],
) -> None:
    sandbox, env = world
    sandbox.admin("POST", "/users/demo/expire-sessions", remember_tokens=True)
    done = jobterm(["exec", "demo/webapp#101", "--", "true"], env)
    assert done.returncode == 255
    assert "session for 127.0.0.1" in done.stderr
    assert "expired" in done.stderr
    assert "jobterm login" in done.stderr


def test_a_numeric_project_is_looked_up_once(world: tuple[SandboxInfo, dict[str, str]]) -> None:
    sandbox, env = world
    first = jobterm(["exec", "1#101", "--", "true"], env)
    assert first.returncode == 0, first.stderr
    sandbox.admin("DELETE", "/requests")
    again = jobterm(["exec", "101", "--project", "1", "--", "true"], env)
    assert again.returncode == 0, again.stderr
    assert requests_of(sandbox) == [UPGRADE]  # project 1's path came from the facts cache


def test_a_stale_remembered_path_is_corrected(world: tuple[SandboxInfo, dict[str, str]]) -> None:
    _, env = world
    assert jobterm(["exec", "1#101", "--", "true"], env).returncode == 0
    facts = Path(env["JOBTERM_CACHE_DIR"]) / "facts.json"
    facts.write_text(facts.read_text().replace('"demo/webapp"', '"demo/renamed"'))
    done = jobterm(["exec", "1#101", "--", "echo", "found"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "found\n"
    assert '"demo/webapp"' in facts.read_text()  # remembered again, right this time


def test_a_rest_fault_while_diagnosing_is_one_line(
    world: tuple[SandboxInfo, dict[str, str]],
) -> None:
    sandbox, env = world
    sandbox.admin("POST", "/faults", kind="server_error", status=502)
    done = jobterm(["exec", "demo/webapp#105", "--", "true"], env)
    assert done.returncode == 255
    assert done.stderr.count("\n") == 1
    assert "failed with 502" in done.stderr


def test_the_keyring_is_read_once(
    world: tuple[SandboxInfo, dict[str, str]], tmp_path: Path
) -> None:
    _, env = world
    log = tmp_path / "keyring.log"
    counted = dict(
        env,
        PYTHON_KEYRING_BACKEND="keyring_counter.CountingKeyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        JOBTERM_TEST_KEYRING_LOG=str(log),
    )
    done = jobterm(["exec", "demo/webapp#101", "demo/webapp#102", "--", "true"], counted)
    assert done.returncode == 0, done.stderr
    assert len(log.read_text().splitlines()) == 1  # two jobs, one host: one read
