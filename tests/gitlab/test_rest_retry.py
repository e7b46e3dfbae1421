"""Passing REST faults are retried, for idempotent requests only (the sandbox's faults).

Class: a transient fault (429, 502, 503, 504, a reset connection) must not end a command
whose request can safely be sent again; a request that could act twice is sent once; a
fault that persists still ends the command with its own exit code, after a bounded number
of tries. The sandbox counts the faults it served, so each test knows how many tries came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures_auth import auth_env_for, jobterm
from reliability import sign_in

AddFault = Callable[..., None]
JOBS = ["jobs", "--project", "demo/webapp"]


@pytest.fixture(scope="module")
def env(sandbox, tmp_path_factory):
    return sign_in(sandbox, tmp_path_factory.mktemp("retry"))


@pytest.fixture
def fault(sandbox: Any) -> Iterator[AddFault]:
    def add(**values: Any) -> None:
        sandbox.admin("POST", "/faults", **values)

    sandbox.admin("DELETE", "/faults")
    yield add
    sandbox.admin("DELETE", "/faults")


def left(sandbox: Any) -> list[int | None]:
    return [f["times"] for f in sandbox.admin("GET", "/faults")]


def retries_logged(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "retrying in" in line]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"kind": "server_error", "status": 502}, id="502"),
        pytest.param({"kind": "server_error", "status": 503}, id="503"),
        pytest.param({"kind": "server_error", "status": 504}, id="504"),
        pytest.param({"kind": "rate_limit", "retry_after": 1}, id="429-retry-after"),
        pytest.param({"kind": "reset"}, id="connection-reset"),
    ],
)
def test_transient_fault_class_is_retried(env, sandbox, fault, values):
    fault(**values, times=2)
    result = jobterm(["--debug", *JOBS], env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "101" in result.stdout
    assert left(sandbox) == [0]
    logged = retries_logged(result.stderr)
    assert len(logged) == 2, result.stderr[-2000:]
    assert "(try 2 of 3)" in logged[0]
    assert "(try 3 of 3)" in logged[1]


def test_a_persistent_fault_ends_after_three_tries(env, sandbox, fault):
    fault(kind="server_error", status=502, times=10)
    result = jobterm(["--debug", *JOBS], env)
    assert result.returncode == 9
    assert "failed with 502" in result.stderr.splitlines()[-1]
    assert left(sandbox) == [7]
    assert "gave up after 3 tries" in result.stderr


def test_a_long_retry_after_is_not_waited_for(env, sandbox, fault):
    """A server asking for a minute gets an answer at once: the user decides."""
    fault(kind="rate_limit", retry_after=60, times=5)
    result = jobterm(JOBS, env)
    assert result.returncode == 9
    assert "wait 60 seconds" in result.stderr
    assert left(sandbox) == [4]


@pytest.mark.parametrize("values", [{"kind": "server_error", "status": 502}, {"kind": "reset"}])
def test_a_post_that_may_act_twice_is_sent_once(sandbox, fault, tmp_path, values):
    """Signing in creates a session: a failed sign-in POST is never sent again."""
    fault(**values, path="/users/sign_in", method="POST", times=5)
    user = sandbox.user("demo")
    env = auth_env_for(tmp_path)
    result = jobterm(
        ["login", sandbox.url, "--username", "demo", "--password-stdin"],
        env,
        stdin=user["password"] + "\n",
    )
    assert result.returncode in (8, 9), result.stderr
    assert left(sandbox) == [4]
