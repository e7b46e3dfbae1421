"""What `jobterm attach` does once its command line is parsed, free of typer (both of its
parsers end here: typer's in `commands/attach.py`, the quick one in `commands/quick.py`)."""

from __future__ import annotations

from pathlib import Path

from jobterm.env import Environment

#: Follows the line about a shell that is not in the build directory with the variables.
PREPARE_HINT = "`attach --prepare` moves it there and sets the job's predefined variables"


def start_attach(
    env: Environment,
    *,
    job: str | None,
    project: str | None,
    host: str | None,
    wait: bool,
    wait_timeout: float,
    escape_char: str,
    no_resize: bool,
    record: str | Path | None,
    record_input: bool,
    prepare: bool = False,
) -> int:
    """Attach to the job and return the exit code (see term/attach_run.py). The parameters
    are those of the command line as its parser read them."""
    from jobterm.core.duration import POLL_FLOOR, seconds_from_env
    from jobterm.core.escape import parse_escape_char
    from jobterm.core.prepare import Prepare
    from jobterm.errors import Interrupted
    from jobterm.jobs.locate import JobQuery
    from jobterm.term.attach import AttachOptions
    from jobterm.term.attach_run import run_attach

    if record is not None:
        check_recording(Path(record))  # before connecting: a session that cannot be kept
    options = AttachOptions(
        escape_char=parse_escape_char(escape_char),
        watch_interval=seconds_from_env(env.environ, "JOBTERM_WATCH_INTERVAL", 5.0, POLL_FLOOR),
        resize=not no_resize,
        term=env.environ.get("TERM") or None,
        record=Path(record) if record is not None else None,
        record_input=record_input,
        # --prepare: run_attach learns the job's facts first
        prepare=Prepare(move=prepare, hint=PREPARE_HINT),
    )
    try:
        return run_attach(env, JobQuery(job, project, host, wait, wait_timeout), options)
    except KeyboardInterrupt:  # as an error, the same on both parsers' paths (errors.py)
        raise Interrupted("interrupted") from None


def check_recording(path: Path) -> None:
    """A --record FILE jobterm could not create is a bad command line (exit 2), said before
    anything connects (the file itself is made once the session starts)."""
    import os

    from jobterm.errors import UsageError

    folder = path.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        why = "is a directory" if path.is_dir() else "cannot be created there"
        raise UsageError(
            f"cannot write the recording {path}: it {why}",
            "pass --record a file in a writable directory",
        )
