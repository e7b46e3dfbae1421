"""JOB completion of `debug` and `logs`: the cache keeps each job's status, `debug` offers
failed jobs first, `attach`/`exec` only running ones (older 4-field rows count as running)."""

from __future__ import annotations

from pathlib import Path

import pytest

from completion_helpers import candidates, complete, isolated_env, seed_cache, seed_config, values

URL = "http://127.0.0.1:9"  # nothing listens: any network use would fail, not hang
JOBS = [
    [301, "deploy", "deploy", "main", "running"],
    [302, "e2e", "test", "main", "failed"],
    [303, "lint", "test", "main", "failed"],
    [304, "old-row", "build", "main"],  # written by an older jobterm: a running job
]


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    env = isolated_env(tmp_path)
    host = seed_config(env, URL)
    seed_cache(env, host, jobs={"demo/webapp": JOBS}, projects=[["demo/webapp", "Demo"]])
    return env


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("jobterm debug -p demo/webapp ", ["302", "303", "301", "304"]),
        ("jobterm debug --no-retry --exec 'cat x' -p demo/webapp 30", ["302", "303", "301", "304"]),
        ("jobterm logs -f -p demo/webapp ", ["301", "304", "302", "303"]),
        ("jobterm attach -p demo/webapp ", ["301", "304"]),
        ("jobterm exec -p demo/webapp ", ["301", "304"]),
    ],
)
def test_each_verb_offers_its_jobs(user: dict[str, str], line: str, expected: list[str]) -> None:
    assert values(complete(user, "bash", line)) == expected


def test_debug_shows_the_status(user: dict[str, str]) -> None:
    found = candidates(complete(user, "zsh", "jobterm debug -p demo/webapp "))
    assert found[0] == ("plain", "302", "e2e [test] main failed")


def test_typers_callback_knows_which_verb_asks(
    user: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slow path (typer) calls complete_job with the command's context."""
    from types import SimpleNamespace

    from jobterm.completion.answers import complete_job

    for name, value in user.items():
        monkeypatch.setenv(name, value)
    ctx = SimpleNamespace(info_name="debug", params={"project": "demo/webapp"})
    assert [v for v, _ in complete_job(ctx, "")] == ["302", "303", "301", "304"]
    ctx = SimpleNamespace(info_name="attach", params={"project": "demo/webapp"})
    assert [v for v, _ in complete_job(ctx, "30")] == ["301", "304"]


def test_the_cache_keeps_the_status() -> None:
    from jobterm.completion.cache import job_row

    job = {"id": 5, "name": "n", "stage": "s", "ref": "r", "status": "failed"}
    assert job_row(job) == [5, "n", "s", "r", "failed"]
