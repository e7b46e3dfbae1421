"""The one exception tree of jobterm, and every exit code it can end with.

Library code raises a `JobtermError` subclass carrying a one-line message and a hint that says
what to do next. Only the CLI entry point (`jobterm.__main__.main`) turns them into text and an
exit code; nothing else prints errors or calls `sys.exit`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes, documented in README.md ("Exit codes"). Keep the two in step."""

    OK = 0
    ERROR = 1  # an error with no more specific code
    USAGE = 2  # bad command line (the code click uses too)
    AUTH = 3  # not signed in, session expired, wrong credentials, account locked
    NOT_FOUND = 4  # host, project or job not found
    JOB_STATE = 5  # the job is not running (pending, finished)
    FORBIDDEN = 6  # not your job, project archived, runner without a terminal, Origin refused
    BUSY = 7  # another terminal is attached, or the runner cannot be reached
    NETWORK = 8  # cannot connect, TLS failure, proxy failure
    SERVER = 9  # the server answered 5xx, 429, or something that is not what GitLab sends
    CONNECTION_LOST = 10  # the terminal connection dropped or went silent
    CONFIG = 11  # config file or keyring unusable
    TIMEOUT = 12  # --timeout / --wait-timeout passed
    JOB_ENDED = 13  # attach: the job finished while attached (not a failure of jobterm)
    NO_BROWSER = 14  # login --from-browser: no supported browser (profile dir) found
    NO_BROWSER_PROFILE = 15  # login --from-browser: the profile asked for does not exist
    NO_BROWSER_SESSION = 16  # login --from-browser: the browser has no session for the host
    BROWSER_SESSION_REJECTED = 17  # login --from-browser: the instance refused the session
    COOKIE_STORE_LOCKED = 18  # login --from-browser: the browser's cookie store is locked
    COOKIE_DECRYPT = 19  # login --from-browser: the cookies cannot be decrypted (keyring)
    SCRIPT_ENDED_FIRST = 20  # debug: the job's script ended before a terminal could attach
    # cp: each way a copy can fail on its own (30 and up, clear of the other commands')
    NO_SUCH_PATH = 30  # cp: the file or directory to copy, or the destination's folder, is missing
    PERMISSION_DENIED = 31  # cp: reading the source or writing the destination is not allowed
    IN_THE_WAY = 32  # cp: the destination exists and is of the other kind (file / directory)
    CHECKSUM_MISMATCH = 33  # cp: what arrived differs from what was sent
    UNSAFE_ARCHIVE = 34  # cp: the job sent a directory that would write outside the copy
    COPY_FAILED = 35  # cp: a tool is missing in the job, or writing failed (e.g. disk full)
    HANGUP = 129  # attach, cp: SIGHUP (128+1)
    INTERRUPTED = 130  # SIGINT
    TERMINATED = 143  # attach, cp: SIGTERM (128+15)
    EXEC_FAILED = 255  # exec: jobterm failed, no exit status from the command (as ssh does)


class JobtermError(Exception):
    """Base of every error the user should see as one line."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init_subclass__(cls, code: ExitCode | None = None, **kwargs: Any) -> None:
        # A subclass names its exit code in its header: `class X(JobtermError, code=...)`.
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.exit_code = code

    def __init__(self, message: str, hint: str | None = None, *, code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.exit_code = code

    def __str__(self) -> str:
        return self.message


class UsageError(JobtermError, code=ExitCode.USAGE): ...


class AuthError(JobtermError, code=ExitCode.AUTH): ...


class NotFoundError(JobtermError, code=ExitCode.NOT_FOUND): ...


class JobStateError(JobtermError, code=ExitCode.JOB_STATE): ...


class NotRetryableError(JobStateError):
    """GitLab refused to retry a job (403): it is not finished, or not the user's to run."""


class ForbiddenError(JobtermError, code=ExitCode.FORBIDDEN): ...


class BusyError(JobtermError, code=ExitCode.BUSY): ...


class NetworkError(JobtermError, code=ExitCode.NETWORK): ...


class ServerError(JobtermError, code=ExitCode.SERVER): ...


class ConnectionLostError(JobtermError, code=ExitCode.CONNECTION_LOST): ...


class ConfigError(JobtermError, code=ExitCode.CONFIG): ...


class TimeoutExpired(JobtermError, code=ExitCode.TIMEOUT): ...


class Interrupted(JobtermError, code=ExitCode.INTERRUPTED):
    """Ctrl-C before the session began (looking the job up, waiting for it). As an error,
    not a KeyboardInterrupt: typer would turn one into a silent exit 130 on its path, and
    both parsers' paths must end alike."""


class ProtocolError(JobtermError, code=ExitCode.SERVER):
    """The peer broke the protocol (bad frame, bad page). Whose fault: the server's."""


class BrowserError(JobtermError, code=ExitCode.NO_BROWSER):
    """`login --from-browser` could not get a usable session; each cause has its own code
    (`ExitCode.NO_BROWSER` ... `ExitCode.COOKIE_DECRYPT`), passed as `code=`."""
