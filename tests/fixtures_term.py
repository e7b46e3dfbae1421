"""Driving jobterm in a real pseudo-terminal, as a user would (pexpect)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

from util import scaled


@dataclass
class TermRun:
    """jobterm running inside `sh` in a PTY, with `stty -g` taken before and after."""

    child: pexpect.spawn
    workdir: Path

    def stty_before(self) -> str:
        return (self.workdir / "before").read_text().strip()

    def stty_after(self) -> str:
        return (self.workdir / "after").read_text().strip()

    def wait_done(self, timeout: float = 30) -> int:
        """Wait for jobterm to exit; return its exit code (printed by the wrapper)."""
        self.child.expect(r"JOBTERM-RC=(\d+)", timeout=scaled(timeout))
        code = int(self.child.match.group(1))
        self.child.expect(pexpect.EOF, timeout=scaled(10))
        return code

    def jobterm_pid(self) -> int:
        """The pid of jobterm itself (the wrapper shell's child)."""
        sh = self.child.pid
        children = Path(f"/proc/{sh}/task/{sh}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def terminal_restored(self) -> bool:
        return self.stty_before() == self.stty_after()

    def type_line(self, line: str, *expect: Any, **options: Any) -> None:
        """Type `line` and Enter into the job's shell, then wait for `expect` (as pexpect's
        `expect` takes it) to show."""
        self.child.send(line + "\r")
        self.child.expect(*expect, **options)

    def leave(self) -> None:
        """Type `~.` at the start of a line: jobterm ends with 0 and the terminal is as before."""
        self.child.send("\r~.")
        assert self.wait_done() == 0
        assert self.terminal_restored()


SpawnJobterm = Callable[..., TermRun]


@pytest.fixture
def spawn_jobterm(tmp_path: Path) -> Iterator[SpawnJobterm]:
    children: list[pexpect.spawn] = []

    def spawn(
        args: list[str],
        env: dict[str, str],
        rows: int = 24,
        cols: int = 80,
        cwd: Path | None = None,
    ) -> TermRun:
        workdir = tmp_path / f"run{len(children)}"
        workdir.mkdir()
        cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "jobterm", *args])
        # The wrapper records the terminal's settings around jobterm, as a user's shell would
        # see them, and prints the exit code.
        script = (
            f"stty -g > {workdir}/before; {cmd}; rc=$?; stty -g > {workdir}/after; "
            'echo "JOBTERM-RC=$rc"'
        )
        full_env = dict(os.environ, **env)
        if "GITLAB_HOST" not in env:
            full_env.pop("GITLAB_HOST", None)
        full_env.setdefault("TERM", "xterm-256color")
        child = pexpect.spawn(
            "sh",
            ["-c", script],
            env=full_env,
            dimensions=(rows, cols),
            timeout=scaled(20),
            cwd=str(cwd or workdir),
        )
        children.append(child)
        return TermRun(child, workdir)

    yield spawn
    for child in children:
        if child.isalive():
            child.terminate(force=True)


@pytest.fixture
def signed_in_env(sandbox: object, signed_in: Callable[..., dict[str, str]]) -> dict[str, str]:
    """A jobterm environment signed in as `demo` to this module's sandbox."""
    return signed_in(sandbox)
