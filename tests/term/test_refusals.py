"""Every way a terminal is refused, for every verb that opens one: exactly one line of
jobterm's, the one that says why, and the documented exit code (exec: always 255, as ssh);
nothing claims a connection that never was. debug shows the job's log too (on stderr with
--exec): only jobterm's own lines are counted there."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from typing import Any

import pytest

from sandbox_ws import open_terminal
from util import scaled

# (job, project, the words of the one line, exit code), as README's exit code table has them.
REFUSALS = [
    ("104", "demo/webapp", "is not running yet (pending)", 5),
    ("105", "demo/webapp", "already finished: success", 5),
    ("106", "demo/webapp", "already finished: failed", 5),
    ("103", "demo/webapp", "only the user who started a job can open its terminal", 6),
    ("107", "demo/webapp", "which offers no terminal", 6),
    ("108", "demo/webapp", "which offers no terminal", 6),
    ("301", "demo/legacy", "is archived", 6),
    ("999", "demo/webapp", "not found", 4),
    ("101", "demo/nope", "not found", 4),
]
# debug retries a finished job and may debug a pending one: its own refusals.
DEBUG_REFUSALS = [
    ("103", "demo/webapp", "only the user who started a job can open its terminal", 6),
    ("999", "demo/webapp", "not found", 4),
    ("101", "demo/nope", "not found", 4),
    ("301", "demo/legacy", "is archived", 6),
]
EXEC_FAILED = 255
VERBS = {
    "exec": lambda job, project: ["exec", job, "-p", project, "--", "true"],
    "debug --exec": lambda job, project: ["debug", job, "-p", project, "--exec", "true"],
}


def lines_of(text: str) -> list[str]:
    return [line for line in text.replace("\r", "").split("\n") if line.strip()]


def jobterms(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("jobterm:")]


def attach_output(
    spawn_jobterm: Any, env: dict[str, str], *args: str, verb: str = "attach"
) -> tuple[int, list[str]]:
    """`jobterm attach ARGS` in a real terminal: its exit code and every line it printed."""
    run = spawn_jobterm([verb, *args], env)
    run.child.logfile_read = io.BytesIO()
    code = run.wait_done()
    assert run.terminal_restored()
    shown = run.child.logfile_read.getvalue().decode(errors="replace")
    return code, [line for line in lines_of(shown) if not line.startswith("JOBTERM-RC=")]


def output(env: dict[str, str], args: list[str]) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "jobterm", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert done.stdout == ""
    return done.returncode, lines_of(done.stderr)


@pytest.mark.parametrize(("job", "project", "words", "code"), REFUSALS)
def test_attach_refused_says_one_line(spawn_jobterm, signed_in_env, job, project, words, code):
    got, shown = attach_output(spawn_jobterm, signed_in_env, job, "-p", project)
    assert (got, len(shown)) == (code, 1), shown
    assert words in shown[0]
    assert "attached" not in shown[0]


@pytest.mark.parametrize(("job", "project", "words", "code"), REFUSALS)
def test_exec_refused_says_one_line(signed_in_env, job, project, words, code):
    got, shown = output(signed_in_env, VERBS["exec"](job, project))
    assert (got, len(shown)) == (EXEC_FAILED, 1), shown
    assert words in shown[0]


@pytest.mark.parametrize(("job", "project", "words", "code"), DEBUG_REFUSALS)
def test_debug_refused_says_one_line(signed_in_env, job, project, words, code):
    got, shown = output(signed_in_env, VERBS["debug --exec"](job, project))
    assert (got, len(jobterms(shown))) == (code, 1), shown
    assert words in shown[-1]


def test_signed_out_is_one_line_for_every_verb(spawn_jobterm, sandbox, auth_env):
    url = f"{sandbox.url}/demo/webapp/-/jobs/101"
    got, shown = attach_output(spawn_jobterm, auth_env, url)
    assert (got, len(shown)) == (3, 1), shown
    for args, code in ((["exec", url, "--", "true"], EXEC_FAILED), (["debug", url], 3)):
        got, shown = output(auth_env, [*args, "--exec", "true"] if "debug" in args else args)
        assert (got, len(shown)) == (code, 1), shown
        assert "jobterm login" in shown[0]


def test_a_terminal_already_attached_is_one_line(spawn_jobterm, sandbox, signed_in_env):
    """The runner allows one terminal a job (423, 500 through Workhorse): the second one
    is refused with one line, for attach and exec alike."""
    cookie = _web_cookie(sandbox)
    ws_url = f"{sandbox.ws_url}/demo/webapp/-/jobs/102/terminal.ws"
    with open_terminal(ws_url, cookie):
        _wait_attached(sandbox, 102)
        got, shown = attach_output(spawn_jobterm, signed_in_env, "102", "-p", "demo/webapp")
        assert (got, len(shown)) == (7, 1), shown
        assert "another terminal" in shown[0]
        got, shown = output(signed_in_env, VERBS["exec"]("102", "demo/webapp"))
        assert (got, len(shown)) == (EXEC_FAILED, 1), shown
        assert "another terminal" in shown[0]


def _web_cookie(sandbox: Any) -> str:
    import httpx

    from fixtures_sandbox import post_sign_in

    with httpx.Client(base_url=sandbox.url, timeout=scaled(10)) as client:
        post_sign_in(client, sandbox, "demo")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def _wait_attached(sandbox: Any, job_id: int) -> None:
    deadline = time.monotonic() + scaled(10)
    while not sandbox.admin("GET", f"/jobs/{job_id}")["terminal_attached"]:
        assert time.monotonic() < deadline, "the test's own terminal never attached"
        time.sleep(0.05)


@pytest.mark.parametrize(("job", "project", "words", "code"), DEBUG_REFUSALS)
def test_debug_on_a_terminal_refused_says_one_line(
    spawn_jobterm, signed_in_env, job, project, words, code
):
    got, shown = attach_output(spawn_jobterm, signed_in_env, job, "-p", project, verb="debug")
    assert (got, len(jobterms(shown))) == (code, 1), shown
    assert words in jobterms(shown)[0]
