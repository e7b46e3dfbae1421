"""The local side of `jobterm debug`: its options and ending, keys in cbreak mode while the
log shows, jobterm's own lines on stderr, and what `~#` says once the shell is the user's."""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobterm.core.joblog import Summary, one_line
from jobterm.errors import JobtermError
from jobterm.term.attach import AttachOptions
from jobterm.term.tty import read_when_ready, write_all

if TYPE_CHECKING:
    from jobterm.core.execproto import ExecSpec
    from jobterm.gitlab.api import GitLab

DEBUG_HELP = """\
While the job's log is shown (type them at the start of a line):
 {c}s   a shell in the job now, while its script runs
 {c}.   leave (the job runs on and finishes by itself)
 {c}?   this help
Ctrl-C leaves too. When the script ends, the shell becomes yours by itself."""


@dataclass
class DebugOptions:
    attach: AttachOptions = field(default_factory=AttachOptions)
    shell_now: bool = False
    prepare: bool = True  # move the shell to the build directory (core/prepare.py)
    exec_spec: ExecSpec | None = None
    cancel_on_interrupt: bool = False
    log_interval: float = 0.5
    pending_interval: float = 0.2
    session_wait: float = 15.0
    final_wait: float = 10.0


@dataclass
class Ending:
    """How the run ended: an exit code, the line to print, the job's final JSON if known."""

    code: int | None
    message: str = ""
    hint: str | None = None
    job: dict[str, Any] | None = None
    exec_status: int | None = None


def not_cancelled(job: dict[str, Any], error: JobtermError, code: int) -> Ending:
    """The closing line when the cancel --cancel-on-interrupt asked for did not happen."""
    url = one_line(str(job.get("web_url", "")))
    return Ending(
        int(code),
        f"could not cancel job {job['id']} ({error.message}); it runs on without a terminal",
        f"cancel it on its page: {url}" if url else "cancel it on its page in GitLab",
    )


class Notices:
    """jobterm's own lines on stderr ("jobterm: …"), and one status line that the next
    line replaces (only on a terminal)."""

    FRAMES = "|/-\\"  # a spinner (ASCII: any locale): each status line turns it one step

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.shown = False
        self.frame = 0

    def say(self, text: str) -> None:
        self.clear()
        reset = "\x1b[0m" if os.isatty(self.fd) else ""  # whatever a log left set ends here
        lines = "".join(f"{reset}jobterm: {line}\n" for line in text.split("\n"))
        with contextlib.suppress(OSError):
            write_all(self.fd, lines.encode())

    def status(self, text: str) -> None:
        if os.isatty(self.fd):
            with contextlib.suppress(OSError):
                spin = self.FRAMES[self.frame % len(self.FRAMES)]
                write_all(self.fd, f"\r\x1b[2K{spin} jobterm: {text}".encode())
            self.frame += 1
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            with contextlib.suppress(OSError):
                write_all(self.fd, b"\r\x1b[2K")


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
    try:
        return await read_when_ready(fd, size)
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

    def shown(self) -> None:
        pass  # the job's details came before the shell
