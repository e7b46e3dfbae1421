"""The sandbox's state on its own: pure, driven with a hand-held clock."""

from __future__ import annotations

import pytest

from jobterm.errors import ConfigError
from jobterm.sandbox.config import build_state
from jobterm.sandbox.state import REMEMBER_COOKIE, SandboxState

NOW = 1_000_000.0


def world(config: dict[str, object] | None = None) -> SandboxState:
    return build_state(config, now=NOW)


def cookie(state: SandboxState, session_id: str, remember: str | None = None) -> dict[str, str]:
    cookies = {state.settings.session_cookie: session_id}
    if remember:
        cookies[REMEMBER_COOKIE] = remember
    return cookies


def test_session_expiry_slides_with_use() -> None:
    state = world({"settings": {"session_expire_delay": 100}})
    demo = state.users["demo"]
    session, _ = state.sign_in(None, demo, False, NOW)
    assert state.user_by_session_cookie(cookie(state, session.id), NOW + 90) is demo
    assert state.user_by_session_cookie(cookie(state, session.id), NOW + 180) is demo
    assert state.user_by_session_cookie(cookie(state, session.id), NOW + 281) is None
    assert session.id not in state.sessions


def test_remember_me_renews_and_extends() -> None:
    state = world({"settings": {"session_expire_delay": 10, "remember_me_duration": 100}})
    session, token = state.sign_in(None, state.users["demo"], True, NOW)
    assert token is not None
    auth = state.authenticate_cookies(cookie(state, session.id, token), NOW + 50)
    assert auth.renewed
    assert auth.session is not None
    assert auth.session.id != session.id
    assert state.remember_tokens[token].expires_at == NOW + 150  # extended on use
    later = state.authenticate_cookies(cookie(state, "gone", token), NOW + 251)
    assert later.user is None


def test_sign_out_revokes_remember_tokens_and_tells_subscribers() -> None:
    state = world()
    heard: list[tuple[str, frozenset[str]]] = []
    state.on_revoke(lambda user, ids: heard.append((user, ids)))
    first, token = state.sign_in(None, state.users["demo"], True, NOW)
    second, _ = state.sign_in(None, state.users["demo"], True, NOW)
    state.sign_out(first)
    assert heard == [("demo", frozenset({first.id}))]
    assert token not in state.remember_tokens
    assert not state.remember_tokens  # every device's token
    assert state.revoke_sessions(state.users["demo"]) == frozenset({second.id})


@pytest.mark.parametrize(
    ("user", "job", "reason"),
    [
        ("demo", 101, None),
        ("bob", 101, "not the job's user"),
        ("demo", 103, "not the job's user"),
        ("demo", 104, "job is pending"),
        ("demo", 105, "job is success"),
        ("demo", 107, "runner has no session server"),
        ("demo", 108, "runner has no session server"),
        ("demo", 301, "project archived"),
        ("bob", 201, "not a member of the project"),
        (None, 101, "not signed in"),
    ],
)
def test_terminal_denial(user: str | None, job: int, reason: str | None) -> None:
    state = world()
    who = state.users[user] if user else None
    assert state.terminal_denial(who, state.jobs[job]) == reason


def test_find_project_by_id_and_path() -> None:
    state = world()
    assert state.find_project(2) is state.find_project("demo%2Ftools%2Fcli")
    assert state.find_project("2") is state.find_project("/demo/tools/cli/")
    assert state.find_project("demo/none") is None
    assert state.find_job(state.projects[1], "201") is None  # another project's job


def test_pipeline_status_from_jobs_and_retries() -> None:
    state = world()
    pipeline = state.pipelines[1004]  # unit (success), e2e (failed)
    assert state.pipeline_status(pipeline) == "failed"
    state.retry_job(state.jobs[106], state.users["demo"], NOW)
    assert state.pipeline_status(pipeline) == "pending"


def test_job_changes_reach_subscribers() -> None:
    state = world()
    seen: list[tuple[int, str]] = []
    state.on_job_change(lambda job: seen.append((job.id, job.status)))
    state.life.start(state.jobs[104], NOW)
    state.life.finish(state.jobs[101], "canceled", NOW + 1)
    assert seen == [(104, "running"), (101, "canceled")]
    assert state.jobs[104].started_at == NOW
    assert state.jobs[101].finished_at == NOW + 1


@pytest.mark.parametrize(
    "config",
    [
        {"users": [{"username": "demo", "password": 5}]},
        {"users": [{"username": "demo", "nickname": "x"}]},
        {"jobs": [{"id": 101, "runner": 99}]},
        {"jobs": [{"id": 101, "shell": []}]},
        {"jobs": [{"name": "x", "project": "no/such"}]},
        {"projects": [{"path": "flat"}]},
        {"settings": {"faults": [{"kind": "nope"}]}},
        {"users": "demo"},
    ],
)
def test_bad_configs_are_config_errors(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        world(config)


def test_lockout_ends_by_itself_unless_set_by_config() -> None:
    state = world({"users": [{"username": "bob", "locked": True}]})
    alice = state.users["alice"]
    for attempt in range(10):
        state.record_failed_attempt(alice, NOW + attempt)
    assert state.is_locked(alice, NOW + 9 + 599)
    assert not state.is_locked(alice, NOW + 9 + 600)
    assert alice.failed_attempts == 0
    assert state.is_locked(state.users["bob"], NOW + 10**6)
