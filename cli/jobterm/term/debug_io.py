"""The local side of `jobterm debug` while the log shows: keys in cbreak mode, and what
`~#` says once the shell is the user's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from jobterm.core.joblog import Summary, one_line
from jobterm.errors import JobtermError

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab

DEBUG_HELP = """\
While the job's log is shown (type them at the start of a line):
 {c}s   a shell in the job now, while its script runs
 {c}.   leave (the job runs on and finishes by itself)
 {c}?   this help
Ctrl-C leaves too. When the script ends, the shell becomes yours by itself."""


@contextlib.contextmanager
def cbreak_mode(fd: int) -> Iterator[Callable[[], None]]:
    """Keys one at a time and not echoed, while Ctrl-C stays a signal and output stays
    cooked (LF is CR LF). Yields a function that restores the terminal early."""
    saved = termios.tcgetattr(fd)

    def restore() -> None:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield restore
    finally:
        restore()


async def read_some(fd: int, size: int = 1024) -> bytes:
    """The next bytes typed on `fd`; b"" when it is closed."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    try:
        return os.read(fd, size)
    except OSError:
        return b""


class ShellInfo:
    """What `~#` shows inside the shell (AttachSession's SessionInfo)."""

    def __init__(self, gl: GitLab, project: str, job: dict[str, Any], summary: Summary) -> None:
        self.gl, self.project, self.job, self.summary = gl, project, job, summary

    def status_lines(self, attached_seconds: float) -> list[str]:
        job_id = int(self.job["id"])
        try:
            job = self.gl.job(self.project, job_id)
        except JobtermError as exc:
            job = dict(self.job, status=f"unknown ({exc.message})")
        name, status = one_line(str(job.get("name", ""))), one_line(str(job.get("status")))
        held = self.summary.terminal_held
        where = f"the job is held for it (up to {held})" if held else "the script still runs"
        return [
            f"job {job_id} '{name}', status {status}",
            f"in the shell for {attached_seconds:.0f} s; {where}",
        ]

    def held_notice(self) -> str | None:
        return None  # the banner said it
