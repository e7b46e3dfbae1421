"""What `jobterm exec` does once its command line is parsed, free of typer.

Two parsers feed it: typer's (`commands/exec_.py`, the full CLI with help, completion and
usage errors) and the quick one (`commands/quick.py`, for the plain command lines
scripts repeat). Both build the same `ExecRequest`; this module turns it into a run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobterm.core.duration import WAIT_TIMEOUT
from jobterm.core.execscript import ExecSpec, StdinMode, shell_argv
from jobterm.env import Environment
from jobterm.errors import ExitCode, Interrupted, JobtermError, UsageError

if TYPE_CHECKING:
    from jobterm.jobs.locate import JobQuery


@dataclass(frozen=True)
class ExecRequest:
    """An `exec` command line, parsed: the positional words (JOB first), how many of them
    followed `--` (None: no `--`), and the options."""

    words: tuple[str, ...]
    after_dashes: int | None = None
    shell: str | None = None
    interactive: bool = False
    no_stdin: bool = False
    tty: bool = False
    stderr: bool = False
    timeout: float | None = None
    project: str | None = None
    host: str | None = None
    wait: bool = False
    wait_timeout: float = WAIT_TIMEOUT
    as_json: bool = False


def run_request(env: Environment, request: ExecRequest) -> int:
    """Run the request in its job (or jobs) and return the exit status."""
    try:
        return _run_request(env, request)
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None


def _run_request(env: Environment, request: ExecRequest) -> int:
    r = request
    jobs, command = split_jobs(r.after_dashes, r.words[0], list(r.words[1:]), r.shell)
    many = len(jobs) > 1 or r.as_json
    if many and (r.interactive or r.tty):
        raise UsageError("-i and -t take one JOB", "several jobs cannot share one input")
    spec = build_spec(env, command, r.shell, r.interactive, r.no_stdin or many, r.tty, r.stderr)
    from jobterm.jobs.locate import JobQuery

    queries = [JobQuery(one, r.project, r.host, r.wait, r.wait_timeout) for one in jobs]
    if not many:
        return _run_one(env, queries[0], spec, r.timeout)
    from jobterm.term.exec import ExecOptions
    from jobterm.term.fanout import run_many

    options = ExecOptions(timeout=r.timeout)
    return as_exec_failure(lambda: run_many(env, queries, spec, options, r.as_json))


def split_jobs(
    after_dashes: int | None, job: str, words: list[str], shell: str | None
) -> tuple[list[str], list[str]]:
    """(JOBs, command) from the positional words: those after `--` are the command, those
    before it more JOBs; with -c and no `--`, all are JOBs; else (no `--`) the command."""
    if after_dashes is None:
        return ([job, *words], []) if shell is not None else ([job], words)
    split = len(words) - after_dashes
    return [job, *words[:split]], words[split:]


def build_spec(
    env: Environment,
    command: list[str],
    shell: str | None,
    interactive: bool,
    no_stdin: bool,
    tty: bool,
    stderr: bool,
) -> ExecSpec:
    from jobterm.term.tty import terminal_size

    if bool(command) == (shell is not None):
        raise UsageError(
            "give the command after -- or as -c 'LINE', not both" if command else "no command",
            "e.g. `jobterm exec JOB -- ls -la` or `jobterm exec JOB -c 'ls | wc -l'`",
        )
    if no_stdin and (interactive or tty):
        raise UsageError("--no-stdin cannot be combined with --interactive or --tty")
    if stderr and tty:
        raise UsageError("--stderr cannot be combined with --tty (a terminal merges them)")
    argv = shell_argv(os.fsencode(shell)) if shell is not None else tuple(map(os.fsencode, command))
    if tty:
        mode = StdinMode.TTY
    elif no_stdin or (env.stdin_isatty and not interactive):
        mode = StdinMode.NULL
    else:
        mode = StdinMode.PIPE
    rows, cols = terminal_size(env.stdout.fileno())
    if (rows, cols) == (0, 0):
        rows, cols = terminal_size(env.stdin.fileno())
    return ExecSpec(
        argv,
        stdin=mode,
        rows=rows or 24,
        cols=cols or 80,
        term=env.environ.get("TERM") or "xterm-256color",
        stderr_apart=stderr,
    )


def _run_one(env: Environment, query: JobQuery, spec: ExecSpec, timeout: float | None) -> int:
    from jobterm.jobs.terminal import resolve_terminal, with_diagnosis
    from jobterm.term.exec import ExecOptions, run_exec

    def run() -> int:
        resolved = resolve_terminal(env, query)
        with resolved:
            options = ExecOptions(timeout=timeout)
            return with_diagnosis(resolved, lambda: run_exec(env, resolved, spec, options))

    return as_exec_failure(run)


def as_exec_failure(run: Callable[[], int]) -> int:
    """As ssh: any failure of jobterm is 255 (but a timeout 12 and an interrupt 130)."""
    try:
        return run()
    except JobtermError as exc:
        if exc.exit_code not in (ExitCode.TIMEOUT, ExitCode.INTERRUPTED):
            exc.exit_code = ExitCode.EXEC_FAILED
        raise
