"""Every REST answer has a bound as a whole: an answer that trickles a byte at a time (each
read gets something, so a read timeout never fires) or never ends is cut at the deadline,
with one line and exit 12, for every kind of read (the user, a job list, a log)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from util import scaled

READS = {
    "the user (jobs)": (["jobs", "-p", "demo/webapp"], "/api/v4/user"),
    "a job list": (["jobs", "-p", "demo/webapp"], "/api/v4/projects/"),
    "a log": (["logs", "101", "-p", "demo/webapp"], "/api/v4/projects/"),
    "a log followed": (["logs", "101", "-p", "demo/webapp", "-f"], "/api/v4/projects/"),
}


@pytest.mark.parametrize("case", list(READS))
def test_an_answer_that_never_ends_is_cut_at_the_deadline(make_sandbox, signed_in, case):
    sandbox = make_sandbox()
    env = dict(signed_in(sandbox), JOBTERM_HTTP_DEADLINE="1.5s")
    args, path = READS[case]
    sandbox.admin("POST", "/faults", kind="trickle", path=path, method="GET")
    done = subprocess.run(
        [sys.executable, "-m", "jobterm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert done.returncode == 12, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "took longer than 1.5 s to answer" in lines[0]
