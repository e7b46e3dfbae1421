"""A job's log over REST: fetched whole, followed by polling, shown through core.joblog.

GitLab answers `GET …/jobs/:id/trace` with the whole log every time, also while the job
runs (spec section 9). A follower keeps how much it has seen and shows only what is new; an
answer shorter than that means the log was replaced (erased, or the job's log archived),
and it starts over.

`jobterm logs` is `run_logs`: the log once, or with `-f` until the job ends (exit 0 for
success, 1 otherwise). Text goes to stdout through the reader (section markers hidden,
escapes neutralised; colours only when stdout is a terminal); `--raw` writes the bytes as
stored.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobterm.core.joblog import Event, JobLogReader, Text, one_line
from jobterm.errors import ExitCode
from jobterm.jobs.actions import read_trace_bytes
from jobterm.jobs.status import FINISHED

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab

DEFAULT_INTERVAL = 0.5  # seconds between polls of a followed log


class LogFollower:
    """Shows what is new in a log at each `poll()`; `raw` skips the reader."""

    def __init__(self, fetch: Callable[[], bytes], reader: JobLogReader, raw: bool = False):
        self.fetch = fetch
        self.reader = reader
        self.raw = raw
        self.seen = 0

    def poll(self) -> list[Event]:
        data = self.fetch()
        if len(data) < self.seen:  # replaced: start over
            self.seen = 0
        new = data[self.seen :]
        self.seen = len(data)
        if self.raw:
            return [Text(new)] if new else []
        return self.reader.feed(new)

    def finish(self) -> list[Event]:
        return [] if self.raw else self.reader.finish()


def write_text(out: Any, events: list[Event]) -> None:
    data = b"".join(e.data for e in events if isinstance(e, Text))
    if data:
        out.write(data)
        out.flush()


def run_logs(
    env: Environment,
    gl: GitLab,
    project: str,
    job: dict[str, Any],
    *,
    follow: bool,
    raw: bool,
    interval: float = DEFAULT_INTERVAL,
) -> int:
    job_id = int(job["id"])
    colour = env.stdout_isatty and "NO_COLOR" not in env.environ
    fetch = functools.partial(read_trace_bytes, gl, project, job_id)
    follower = LogFollower(fetch, JobLogReader(colour), raw)
    write_text(env.stdout, follower.poll())
    if not follow:
        write_text(env.stdout, follower.finish())
        return int(ExitCode.OK)
    while job.get("status") not in FINISHED:
        time.sleep(interval)
        write_text(env.stdout, follower.poll())
        job = gl.job(project, job_id)
    write_text(env.stdout, follower.poll())  # what was written before it finished
    write_text(env.stdout, follower.finish())
    status = job.get("status")
    name = one_line(str(job.get("name", "")))
    env.stderr.write(f"jobterm: job {job_id} '{name}' finished: {one_line(str(status))}\n")
    return int(ExitCode.OK if status == "success" else ExitCode.ERROR)
