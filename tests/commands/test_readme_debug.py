"""README's `jobterm debug` section is true on every executor: its transcript and its
`--exec` example, read out of README.md and run against the sandbox's job 106 on a runner
of each kind (`[[runners]] id = 1, executor = …`)."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from term.test_debug_session import ended_with, screen_of
from util import scaled

README = (Path(__file__).parents[2] / "README.md").read_text()
SECTION = README[README.index("## A shell in a job that failed") :]
SECTION = SECTION[: SECTION.index("\n## ", 1)]


def transcript() -> list[str]:
    """The lines of the section's example session, `$ jobterm debug 106 …` first."""
    block = re.search(r"```text\n(\$ jobterm debug 106[^\n]*\n.*?)```", SECTION, re.DOTALL)
    assert block, "README's debug transcript is gone"
    return block.group(1).splitlines()


def exec_example() -> str:
    """The CMD of the section's `--exec 'CMD' > FILE` example."""
    found = re.search(r"^jobterm debug 4211 --exec ('[^']*') > \S+", SECTION, re.MULTILINE)
    assert found, "README's --exec example is gone"
    return shlex.split(found.group(1))[0]


def prepared_line(executor: str) -> re.Pattern[str]:
    """The row of README's table for this executor, as a pattern (paths are the job's)."""
    kind = executor
    pattern = rf"^\| {re.escape(kind)} \| `(\[jobterm\] in [^`]+)` \|$"
    row = re.search(pattern, SECTION, re.MULTILINE)
    assert row, f"README's line for {kind} is gone"
    parts = re.split(r"/\S*/demo/webapp", row.group(1))  # the job's own path
    assert len(parts) == 2, row.group(1)
    return re.compile(r"/\S*/demo/webapp".join(map(re.escape, parts)))


def config(executor: str) -> dict[str, Any]:
    return {"runners": [{"id": 1, "executor": executor}]}


@pytest.mark.parametrize("executor", ["shell", "kubernetes"])
def test_the_transcript_holds(executor, spawn_jobterm, make_sandbox, signed_in):
    lines = transcript()
    sandbox = make_sandbox(config(executor))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    args = shlex.split(lines[0][2:])[1:]
    run = spawn_jobterm(args, env, rows=60, cols=300)
    run.child.logfile_read = io.BytesIO()
    run.child.expect(r"\[jobterm\] in ")
    shell_from = next(n for n, line in enumerate(lines) if line.startswith("[jobterm] in "))
    typed = [n for n, line in enumerate(lines) if line.startswith("$ ") and n > shell_from]
    assert typed, "the transcript types nothing in the shell"
    for n in typed:
        time.sleep(0.3)
        run.child.send(lines[n][2:] + "\r")
        expected = lines[n + 1]
        if lines[n][2:] == "exit":
            expected = re.sub(r"job \d+ ", r"job \\d+ ", re.escape(expected))
            run.child.expect(expected)
        else:
            run.child.expect_exact(expected)
    ended_with(run, 1)
    shown = "\n".join(screen_of(run, rows=60, cols=300))
    assert prepared_line(executor).search(shown), shown
    for line in lines:  # jobterm's own lines of the transcript, but for the job's id and paths
        if line.startswith("jobterm: job 302's") or line.startswith("jobterm: the job is held"):
            assert re.sub(r"job \d+", "job N", line) in re.sub(r"job \d+", "job N", shown)


@pytest.mark.parametrize("executor", ["shell", "docker", "kubernetes"])
def test_the_exec_example_holds(executor, make_sandbox, signed_in):
    sandbox = make_sandbox(config(executor))
    env = dict(signed_in(sandbox), JOBTERM_LOG_INTERVAL="0.2")
    command = exec_example()
    done = subprocess.run(
        [sys.executable, "-m", "jobterm", "debug", "106", "-p", "demo/webapp", "--exec", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    if executor == "docker":  # as README says: no runner holds such a job
        assert done.returncode in (20, 255), done.stderr
        assert "docker" in done.stderr or "before a terminal could attach" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert done.stdout == '<testsuite name="e2e" failures="1"/>\n', done.stderr
