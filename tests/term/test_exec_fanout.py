"""`jobterm exec JOB1 JOB2 … -- CMD`: one process, one connection per job, all at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures_auth import SignedIn, jobterm
from fixtures_sandbox import MakeSandbox, SandboxInfo

JOBS = ["demo/webapp#101", "demo/webapp#102"]  # bash -l and dash, both demo's, both running


@pytest.fixture
def signed(make_sandbox: MakeSandbox, signed_in: SignedIn) -> tuple[SandboxInfo, dict[str, str]]:
    sandbox = make_sandbox()
    return sandbox, signed_in(sandbox)


def test_output_is_prefixed_and_the_sessions_overlap(
    signed: tuple[SandboxInfo, dict[str, str]], tmp_path: Path
) -> None:
    sandbox, env = signed
    # Each command waits until both have started: run one after the other, they never would
    # (--timeout ends that case with 12 instead of hanging).
    line = (
        f"touch {tmp_path}/$$; "
        f"while [ $(ls {tmp_path} | wc -l) -lt 2 ]; do sleep 0.05; done; "
        "echo both; printf 'no newline'"
    )
    sandbox.admin("DELETE", "/requests")
    done = jobterm(["exec", *JOBS, "--timeout", "30", "-c", line], env)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [
        "[101] both",
        "[101] no newline",
        "[102] both",
        "[102] no newline",
    ]
    upgrades = [r["path"] for r in sandbox.admin("GET", "/requests")["requests"]]
    assert sorted(upgrades) == [f"/demo/webapp/-/jobs/{n}/terminal.ws" for n in (101, 102)]


def test_exit_status_is_the_worst_and_failures_are_named(
    signed: tuple[SandboxInfo, dict[str, str]],
) -> None:
    _, env = signed
    done = jobterm(["exec", *JOBS, "demo/webapp#105", "--", "sh", "-c", "exit 3"], env)
    assert done.returncode == 255  # 105 finished: jobterm fails for it, the others exit 3
    assert "jobterm: [105] job 105 'unit' already finished: success" in done.stderr
    ok = jobterm(["exec", *JOBS, "--", "sh", "-c", "exit 3"], env)
    assert ok.returncode == 3


def test_json_is_one_line_per_job(signed: tuple[SandboxInfo, dict[str, str]]) -> None:
    _, env = signed
    done = jobterm(["exec", "101", "105", "-p", "demo/webapp", "--json", "-c", "echo hi"], env)
    assert done.returncode == 255
    rows = {row["job"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert rows["101"] == {"job": "101", "status": 0, "error": None, "output": "hi\n"}
    assert rows["105"]["status"] == 255
    assert "already finished" in rows["105"]["error"]


def test_one_input_cannot_go_to_several_jobs(signed: tuple[SandboxInfo, dict[str, str]]) -> None:
    _, env = signed
    done = jobterm(["exec", *JOBS, "-t", "--", "true"], env)
    assert done.returncode == 2  # a usage error, as exec's other bad combinations
    assert "-i and -t take one JOB" in done.stderr
