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
TALKERS = {
    "talks, waits, talks": ["--", "sh", "-c", "echo a; sleep 1; echo b; exit 3"],
    # the first write fails in the writer thread; the second comes with the end
    "talks, then talks and ends": ["--", "sh", "-c", "echo a; sleep 0.3; printf b; exit 3"],
}


@pytest.mark.parametrize("attempt", range(6))
def test_a_failed_write_that_comes_with_the_end_never_hangs(env, attempt):
    """The write that fails may come in the same piece as the command's end, after the run
    has ended: the failure must still end it (it hung, some runs in three). Six tries make
    a miss of that class unlikely."""
    talker = TALKERS["talks, then talks and ends"]
    code, err = run_in_bash(env, ["exec", "101", "-p", "demo/webapp", *talker], ">&-")
    assert code == 255, err


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
@pytest.mark.parametrize("talker", list(TALKERS.values()), ids=list(TALKERS))
def test_output_that_cannot_be_delivered_is_255_and_one_line(env, jobs, tail, talker):
    code, err = run_in_bash(env, ["exec", *jobs, "-p", "demo/webapp", *talker], tail)
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
