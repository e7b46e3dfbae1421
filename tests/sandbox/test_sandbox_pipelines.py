"""Pipelines in the sandbox (sandbox/pipelines.py): made by a push through the control API,
run stage after stage, a failure skipping what comes after, described by CI lint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox_ws import TerminalSandbox, serving
from util import scaled

CONFIG: dict[str, Any] = {"settings": {"prepare_seconds": 0.05, "retry_pending_seconds": 0.1}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerminalSandbox]:
    with serving(CONFIG, workdir=tmp_path_factory.mktemp("pipelines")) as server:
        yield server


def api(srv: TerminalSandbox, path: str) -> Any:
    response = httpx.get(
        f"{srv.url}/api/v4/projects/1{path}",
        headers={"PRIVATE-TOKEN": srv.token("demo")},
        timeout=scaled(10),
    )
    assert response.status_code == 200, response.text
    return response.json()


def statuses(srv: TerminalSandbox, pipeline: int) -> dict[str, str]:
    return {j["name"]: j["status"] for j in api(srv, f"/pipelines/{pipeline}/jobs")}


def wait_for(srv: TerminalSandbox, pipeline: int, wanted: dict[str, str]) -> dict[str, str]:
    deadline = time.monotonic() + scaled(15)
    seen = [statuses(srv, pipeline)]
    while any(seen[-1].get(k) != v for k, v in wanted.items()):
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
        now = statuses(srv, pipeline)
        if now != seen[-1]:
            seen.append(now)
    return seen[-1]


def push(srv: TerminalSandbox, jobs: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return srv.control("POST", "/pipelines", {"project": "demo/webapp", "jobs": jobs, **more})


def test_stages_run_one_after_the_other(srv: TerminalSandbox) -> None:
    made = push(
        srv,
        [
            {"name": "compile", "stage": "build", "script": ["sleep 0.3"]},
            {"name": "unit", "stage": "test", "script": ["true"]},
            {"name": "e2e", "stage": "test", "script": ["true"], "artifacts": True},
        ],
        stages=["build", "test"],
    )
    first = statuses(srv, made["id"])
    assert first["unit"] == first["e2e"] == "created"
    assert first["compile"] in ("pending", "running")
    wait_for(srv, made["id"], {"compile": "running"})
    assert statuses(srv, made["id"])["unit"] == "created"  # its stage has not begun
    wait_for(srv, made["id"], {"compile": "success", "unit": "success", "e2e": "success"})
    pipeline = api(srv, f"/pipelines/{made['id']}")
    assert pipeline["status"] == "success"
    e2e = next(j for j in api(srv, f"/pipelines/{made['id']}/jobs") if j["name"] == "e2e")
    log = httpx.get(
        f"{srv.url}/api/v4/projects/1/jobs/{e2e['id']}/trace",
        headers={"PRIVATE-TOKEN": srv.token("demo")},
        timeout=scaled(10),
    ).text
    ends = [log.index(m) for m in ("step_script\r", "upload_artifacts_on_success", "Job succeeded")]
    assert ends == sorted(ends)


def test_a_failure_skips_the_later_stages(srv: TerminalSandbox) -> None:
    made = push(
        srv,
        [
            {"name": "flaky", "stage": "build", "script": ["exit 2"]},
            {"name": "lenient", "stage": "build", "script": ["false"], "allow_failure": True},
            {"name": "deploy", "stage": "deploy", "script": ["true"]},
        ],
    )
    final = wait_for(srv, made["id"], {"flaky": "failed", "deploy": "skipped"})
    assert final["lenient"] == "failed"
    assert api(srv, f"/pipelines/{made['id']}")["status"] == "failed"


def test_ci_lint_describes_the_pipelines_jobs(srv: TerminalSandbox) -> None:
    made = push(srv, [{"name": "only", "script": ["make", "make test"]}], ref="topic")
    answer = api(srv, f"/ci/lint?content_ref={made['sha']}&include_jobs=true")
    assert answer["valid"] is True
    assert [(j["name"], j["script"]) for j in answer["jobs"]] == [("only", ["make", "make test"])]
    assert "jobs" not in api(srv, f"/ci/lint?content_ref={made['sha']}")
    assert api(srv, "/ci/lint?content_ref=topic&include_jobs=true")["jobs"][0]["name"] == "only"
