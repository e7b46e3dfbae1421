"""The REST API misbehaving (the sandbox's REST faults) while jobterm finds the job.

`attach` (in a real PTY) meets 5xx, 429 with Retry-After, an HTML page instead of JSON, and a
redirect to the sign-in page (exec meets them in test_reliability_exec.py). Each ends with its
exit code and one line, the terminal as it was, and no secret printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures_auth import jobterm
from reliability import assert_no_secrets, closing_line, secrets_of, shown, sign_in, start_attach

Fault = Callable[..., None]

CASES = [
    pytest.param({"kind": "server_error", "status": 502}, 9, "failed with 502", id="5xx"),
    pytest.param(
        {"kind": "rate_limit", "retry_after": 7}, 9, "wait 7 seconds", id="429-retry-after"
    ),
    pytest.param({"kind": "html"}, 9, "HTML page", id="html-not-json"),
    pytest.param({"kind": "sign_in_redirect"}, 3, "jobterm login", id="redirect-to-sign-in"),
]


@pytest.fixture(scope="module")
def signed_in_env(sandbox, tmp_path_factory):
    """`demo`, signed in once for this module's tests."""
    return sign_in(sandbox, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def rest_fault(sandbox: Any) -> Iterator[Fault]:
    def add(**fault: Any) -> None:
        sandbox.admin("POST", "/faults", **fault)

    yield add
    sandbox.admin("DELETE", "/faults")


@pytest.mark.parametrize(("fault", "code", "says"), CASES)
def test_attach(spawn_jobterm, signed_in_env, sandbox, rest_fault, fault, code, says):
    rest_fault(**fault)
    run = start_attach(spawn_jobterm, signed_in_env)
    assert run.wait_done() == code, shown(run)[-800:]
    assert run.terminal_restored()
    assert says in closing_line(run)
    assert_no_secrets(shown(run), secrets_of(signed_in_env, sandbox))


def test_a_fault_that_passes_leaves_jobterm_working(signed_in_env, sandbox, rest_fault):
    """One failed request is not remembered: the next command works (3 faults: the failed
    command's three tries)."""
    rest_fault(kind="server_error", status=503, times=3)
    first = jobterm(["jobs", "--project", "demo/webapp"], signed_in_env)
    assert first.returncode == 9
    second = jobterm(["jobs", "--project", "demo/webapp"], signed_in_env)
    assert second.returncode == 0, second.stderr
    assert "101" in second.stdout
