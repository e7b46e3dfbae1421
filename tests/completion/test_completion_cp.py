"""Completion of `jobterm cp` operands: job references, offered as `JOB:`."""

from __future__ import annotations

from pathlib import Path

import pytest

from completion_helpers import candidates, complete, isolated_env, seed_cache, seed_config

URL = "http://127.0.0.1:9"  # nothing listens: any network use would fail, not hang
JOB = ("plain", "101:", "build [build] main")
PATHS = ("file", "", "")


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    env = isolated_env(tmp_path)
    host = seed_config(env, URL)
    seed_cache(env, host, jobs={"demo/webapp": [[101, "build", "build", "main"]]})
    return env


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("jobterm cp -p demo/webapp ", [JOB, PATHS]),
        ("jobterm cp -p demo/webapp 10", [JOB, PATHS]),
        ("jobterm cp -p demo/webapp ./report.xml 1", [JOB, PATHS]),
        ("jobterm cp -p demo/webapp 101:", []),  # a remote path: nothing cheap to offer
        ("jobterm cp -p demo/webapp ./rep", [PATHS]),  # the shell completes local paths
    ],
)
def test_cp_offers_job_references(user: dict[str, str], line: str, expected: list[object]) -> None:
    result = complete(user, "bash", line)
    assert result.returncode == 0
    assert candidates(result) == expected
