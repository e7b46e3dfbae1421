"""The standard streams at the edges of a run: closed ones, and readers that go away.

* A stream the caller closed (`jobterm jobs >&-`, `<&-`, `2>&-`) is reopened on /dev/null
  before anything else happens, so that no file jobterm opens later gets its number (the
  config file would otherwise become "stdout"). A closed stdout is reopened read-only: writing
  to it still fails (EBADF), as it would have, and the boundary turns that into
  one line instead of an internal error. A closed stdin reads as empty.
* A reader that goes away (`jobterm jobs | head -1`) is not an error of jobterm's: listings
  end quietly with 0 (the reader got what it wanted); `exec` keeps its own rule (255 and one
  line). `silence_stdout` points fd 1 at /dev/null so the interpreter's last flush cannot
  complain.
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False  # not `typing`'s: this module runs before every command
if TYPE_CHECKING:
    from typing import NoReturn

_closed_stdout = False


def guard_std_streams() -> None:
    """Reopen any closed fd 0, 1 or 2 on /dev/null (see the module comment)."""
    global _closed_stdout
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_RDONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        opened = os.open(os.devnull, flags)
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        if fd == 0:
            sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - process-long
        elif fd == 1:
            _closed_stdout = True
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        else:
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115


def stdout_was_closed() -> bool:
    return _closed_stdout


def is_closed_stdout_error(exc: BaseException) -> bool:
    """Whether `exc` is a write to the stdout the caller closed."""
    return _closed_stdout and isinstance(exc, OSError) and exc.errno == errno.EBADF


CLOSED_STDOUT_MESSAGE = (
    "jobterm: cannot write the output: stdout is closed (redirect it to /dev/null to discard it)"
)


def silence_stdout() -> None:
    """From now on, whatever is still buffered for stdout goes to /dev/null."""
    to_devnull(1)


def to_devnull(fd: int) -> None:
    """Point `fd` at /dev/null: what is written to it from now on is discarded."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


def flush_stdout() -> int | None:
    """Flush stdout at the end of a run: None when fine, else the exit code to end with
    (0 for a reader that went away, 1 for a closed stdout, with its one line)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return 0
    except OSError as exc:
        if not is_closed_stdout_error(exc):
            raise
        sys.stderr.write(CLOSED_STDOUT_MESSAGE + "\n")
        silence_stdout()
        return 1
    return None


def leave(code: int) -> NoReturn:
    """End the process with `code` without tearing the interpreter down.

    A normal exit waits for threads, runs the atexit functions, flushes the streams and then
    frees every module and object one by one. For the ~300 modules of a connected run that
    last step costs about 20 ms on the bench machine (importing asyncio and websockets and
    exiting: 118 ms, 98 ms without it), and nothing of it is seen outside the process. So:
    unless a thread other than a daemon still runs (then the usual exit waits for it, and
    this one would not), run the atexit functions (they include logging's
    flush and every `weakref.finalize`, e.g. temporary directories), flush stdout and
    stderr, and `os._exit`. Files jobterm writes are closed where they are written (and
    renamed into place), never left for the interpreter's teardown to flush.
    """
    threading = sys.modules.get("threading")  # not imported: no thread was ever started
    if threading is not None and any(
        not thread.daemon and thread is not threading.main_thread()
        for thread in threading.enumerate()
    ):
        sys.exit(code)  # daemon threads are left behind by either kind of exit
    import atexit
    import contextlib

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away, or a closed stream: main() has said so where it matters.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
