"""`exec`'s rules for its output and its endings hold for one job and for several alike
(a fan-out is the same machine once per job): a reader that goes away and a closed stdout
are 255 and one line, a timeout is 12."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from util import scaled

JOBS = {"one job": ["101"], "two jobs": ["101", "102"]}
TALKER = ["--", "sh", "-c", "echo a; sleep 1; echo b; exit 3"]


def run_in_bash(env: dict[str, str], args: list[str], tail: str) -> tuple[int, str]:
    """`jobterm ARGS` inside bash with `tail` after it (a pipe or a redirection); jobterm's
    own exit status and stderr."""
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "jobterm", *args])
    script = f"{command} 2>err.txt {tail}; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        cwd=env["JOBTERM_TEST_CWD"],
    )
    with open(f"{env['JOBTERM_TEST_CWD']}/err.txt", encoding="utf-8") as err:
        return int(done.stdout.strip().splitlines()[-1]), err.read()


@pytest.fixture
def env(signed_in_env: dict[str, str], tmp_path) -> dict[str, str]:
    return dict(signed_in_env, JOBTERM_TEST_CWD=str(tmp_path))


@pytest.mark.parametrize("jobs", list(JOBS.values()), ids=list(JOBS))
@pytest.mark.parametrize("tail", ["| true", ">&-"], ids=["reader gone", "stdout closed"])
def test_output_that_cannot_be_delivered_is_255_and_one_line(env, jobs, tail):
    code, err = run_in_bash(env, ["exec", *jobs, "-p", "demo/webapp", *TALKER], tail)
    assert code == 255, err
    lines = err.splitlines()
    assert lines, "nothing said"
    assert all("could not write the command's output" in line for line in lines), err
    assert len(lines) <= len(jobs)


@pytest.mark.parametrize("jobs", list(JOBS.values()), ids=list(JOBS))
def test_a_timeout_is_12(env, jobs):
    args = ["exec", *jobs, "-p", "demo/webapp", "--timeout", "1s", "--", "sleep", "30"]
    code, err = run_in_bash(env, args, "> /dev/null")
    assert code == 12, err
