"""`jobterm exec JOB1 JOB2 … -- CMD`: one command in several jobs at once, in one process.

A thin wrapper around `exec_session`: each job gets its own terminal connection, run
concurrently, with its stdout and stderr going into pipes that this module reads. Lines come
out as they complete, each prefixed with the job's label (`[101] …`, like `kubectl logs
--prefix`); a job's last line without a newline gets one. With `as_json` the output is kept
instead, and each job ends as one JSON line (label, exit status, error, output) in the order
the jobs finish. The exit status of the whole is the worst (the highest) of the jobs'.

No job reads stdin (one input cannot go to several commands); a failure of jobterm for one
job (it is not running, the connection drops…) is that job's status 255 and one line on
stderr, and the others carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobterm.errors import ExitCode, JobtermError
from jobterm.term.tty import read_when_ready

if TYPE_CHECKING:
    from jobterm.core.execproto import ExecSpec
    from jobterm.env import Environment
    from jobterm.gitlab.session import HostSession
    from jobterm.jobs.locate import JobQuery
    from jobterm.jobs.terminal import ResolvedJob
    from jobterm.term.exec import ExecOptions

#: A job's run: connect and run the command with these (stdin, stdout, stderr) descriptors.
Run = Callable[[int, int, int], Awaitable[int]]


@dataclass
class JobResult:
    label: str
    status: int = int(ExitCode.EXEC_FAILED)
    error: str | None = None
    output: bytearray = field(default_factory=bytearray)
    write_error: OSError | None = None  # our stdout could not take the output

    def as_json(self) -> str:
        text = self.output.decode("utf-8", errors="replace")
        return json.dumps(
            {"job": self.label, "status": self.status, "error": self.error, "output": text}
        )


async def fan_out(runs: list[tuple[str, Run]], out_fd: int, err_fd: int, as_json: bool) -> int:
    """Run every job at once; the worst exit status."""
    lock = asyncio.Lock()  # one whole line at a time on each of our streams
    results = await asyncio.gather(
        *(_one(label, run, out_fd, err_fd, as_json, lock) for label, run in runs)
    )
    return max(r.status for r in results)


async def _one(
    label: str, run: Run, out_fd: int, err_fd: int, as_json: bool, lock: asyncio.Lock
) -> JobResult:
    result = JobResult(label)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    readers = [
        asyncio.ensure_future(_relay(out_r, out_fd, label, lock, result, as_json)),
        asyncio.ensure_future(_relay(err_r, err_fd, label, lock, result, as_json)),
    ]
    try:
        result.status = await run(null, out_w, err_w)
    except JobtermError as exc:  # as a single exec: its own code for a timeout or Ctrl-C
        result.error = exc.message
        kept = (ExitCode.TIMEOUT, ExitCode.INTERRUPTED)
        result.status = int(exc.exit_code if exc.exit_code in kept else ExitCode.EXEC_FAILED)
    finally:
        for fd in (out_w, err_w, null):
            os.close(fd)
        await asyncio.gather(*readers)
    if result.write_error is not None and result.error is None:  # as a single exec: 255
        problem = result.write_error.strerror or str(result.write_error)
        result.error = f"could not write the command's output: {problem}"
        result.status = int(ExitCode.EXEC_FAILED)
    async with lock:
        with contextlib.suppress(OSError):  # where even that cannot go, the status says it
            if as_json and result.write_error is None:
                _write(out_fd, (result.as_json() + "\n").encode())
            elif result.error is not None:
                _write(err_fd, f"jobterm: [{label}] {result.error}\n".encode())
    return result


async def _relay(
    read_fd: int, write_fd: int, label: str, lock: asyncio.Lock, result: JobResult, keep: bool
) -> None:
    """Copy `read_fd` to `write_fd` line by line with the prefix (or into the result, with
    `keep`). A write that fails (the reader went away, stdout closed) is kept in the result
    and the rest is read and dropped, so the job's command is never stuck on a full pipe."""
    os.set_blocking(read_fd, False)
    prefix = f"[{label}] ".encode()
    pending = b""

    async def put(data: bytes) -> None:
        if result.write_error is None:
            async with lock:
                try:
                    _write(write_fd, data)
                except OSError as exc:
                    result.write_error = exc

    try:
        while True:
            data = await read_when_ready(read_fd)
            if not data:
                break
            if keep:
                result.output += data
                continue
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
            if lines:
                await put(b"".join(prefix + line + b"\n" for line in lines))
        if pending:
            await put(prefix + pending + b"\n")
    finally:
        os.close(read_fd)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def labels(resolved: list[ResolvedJob]) -> list[str]:
    """`101`, or `group/app#101` when the jobs are not all of one project."""
    projects = {r.project for r in resolved}
    if len(projects) == 1:
        return [str(r.job_id) for r in resolved]
    return [f"{r.project}#{r.job_id}" for r in resolved]


def run_many(
    env: Environment, queries: list[JobQuery], spec: ExecSpec, options: ExecOptions, as_json: bool
) -> int:
    """Resolve every JOB (one keyring read per host), then run `spec` in all at once."""
    from jobterm.jobs.terminal import resolve_terminal

    sessions: dict[str | None, HostSession] = {}
    try:
        resolved = [resolve_terminal(env, query, sessions=sessions) for query in queries]
        runs = [
            (label, _runner(r, spec, options))
            for label, r in zip(labels(resolved), resolved, strict=True)
        ]
        out, err = env.stdout.fileno(), env.stderr.fileno()
        return asyncio.run(fan_out(runs, out, err, as_json))
    finally:
        for session in sessions.values():
            session.close()


def _runner(resolved: ResolvedJob, spec: ExecSpec, options: ExecOptions) -> Run:
    """One job's run: connect (asking REST why, if refused) and run the command."""
    from jobterm.jobs.terminal import with_diagnosis_async
    from jobterm.term.exec import Streams, exec_session

    async def run(stdin: int, stdout: int, stderr: int) -> int:
        streams = Streams(stdin, stdout, stderr)
        return await with_diagnosis_async(
            resolved, lambda: exec_session(resolved.target, spec, streams, options)
        )

    return run
