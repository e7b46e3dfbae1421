"""`jobterm demo`, what README's first command (`make demo`) runs: a sandbox, a sign-in and an
attach, driven in a real PTY as a newcomer would, and nothing left behind afterwards."""

from __future__ import annotations

import io
from pathlib import Path

import pyte

from fixtures_term import SpawnJobterm
from jobterm.errors import ExitCode


def screen_of(output: bytes, rows: int = 24, cols: int = 80) -> list[str]:
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(output)
    return [line.rstrip() for line in screen.display]


def test_the_demo_attaches_a_working_shell_and_leaves_nothing_behind(
    tmp_path: Path, spawn_jobterm: SpawnJobterm
) -> None:
    scratch = tmp_path / "scratch"  # the demo's config, the sandbox's builds: all in here
    scratch.mkdir()
    run = spawn_jobterm(["demo"], {"TMPDIR": str(scratch)}, rows=24, cols=80)
    run.child.logfile_read = io.BytesIO()
    run.child.expect("attaching to job 101 'build'")
    run.child.expect(r"webapp[#$] ")
    # The job's terminal has the local terminal's size (GitLab's starts at 0x0).
    run.type_line("stty size", "24 80")
    run.type_line("echo demo-$((6*7)) $CI_JOB_NAME", "demo-42 build")
    run.leave()
    shown = screen_of(run.child.logfile_read.getvalue())
    assert "demo-42 build" in shown, shown
    assert any("detached from job 101 'build'" in line for line in shown), shown
    assert list(scratch.iterdir()) == []


def test_an_unknown_demo_job_names_the_jobs_there_are(
    tmp_path: Path, spawn_jobterm: SpawnJobterm
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    run = spawn_jobterm(["demo", "--job", "nope"], {"TMPDIR": str(scratch)})
    run.child.logfile_read = io.BytesIO()
    code = run.wait_done()
    output = run.child.logfile_read.getvalue().decode(errors="replace")
    assert code == ExitCode.NOT_FOUND
    assert "no running job 'nope'" in output
    assert "try one of" in output
    assert "build" in output
    assert "Traceback" not in output
    assert run.terminal_restored()
    assert list(scratch.iterdir()) == []
