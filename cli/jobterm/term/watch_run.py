"""`jobterm watch` from start to end: find the pipeline, run the loop (term/watch.py), and
turn its ending into the exit code: 0 when the pipeline succeeded, 1 when it did not, 128+N
on a signal, and the usual codes for sign-in and connection failures (errors.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.term.watch import WatchOptions


def run_watch(
    env: Environment,
    pipeline: str | None,
    *,
    project: str | None,
    host: str | None,
    ref: str | None,
    wait: float | None,
    options: WatchOptions,
) -> int:
    from jobterm.core.jobs import JobRef
    from jobterm.gitlab.session import open_gitlab
    from jobterm.jobs.locate import project_for
    from jobterm.jobs.pipeline import current_branch, find_pipeline, parse_pipeline_ref
    from jobterm.term.watch import WatchRun

    where = parse_pipeline_ref(pipeline)
    gl = open_gitlab(env, where.origin or host, need_web_session=True)
    with gl:
        path = project_for(gl.host, JobRef(0, path=where.project), project)
        proj = gl.project(path)
        path = str(proj["path_with_namespace"])
        branch = ref or (None if where.pipeline_id else current_branch())
        found = find_pipeline(gl, path, where, branch, wait=wait, tick=_status(env))
        fds = (env.stdin.fileno(), env.stdout.fileno(), env.stderr.fileno())
        return asyncio.run(WatchRun(gl, path, found, options, fds).run())


def _status(env: Environment) -> Callable[[str], None]:
    """A status line on stderr while --wait waits (on a terminal; nothing otherwise)."""

    def tick(text: str) -> None:
        if os.isatty(env.stderr.fileno()):
            env.stderr.write(f"\r\x1b[2Kjobterm: {text}")
            env.stderr.flush()

    return tick
