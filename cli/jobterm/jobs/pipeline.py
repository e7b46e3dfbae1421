"""Which pipeline `jobterm watch` means: an id or URL, else the newest of a branch, or (with
--wait) the next one to appear, as right after `git push`."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from jobterm.errors import JobStateError, NotFoundError, UsageError

if TYPE_CHECKING:
    from jobterm.gitlab.api import GitLab

_URL = re.compile(r"^(?P<origin>https?://[^/]+)(?P<path>/.+?)/-/pipelines/(?P<id>\d+)/?$")


class PipelineRef(NamedTuple):
    origin: str | None
    project: str | None
    pipeline_id: int | None


def parse_pipeline_ref(text: str | None) -> PipelineRef:
    """`123`, or a pipeline's web URL (its host and project too); None: the newest."""
    if text is None:
        return PipelineRef(None, None, None)
    if text.isdigit():
        return PipelineRef(None, None, int(text))
    found = _URL.match(text)
    if found is None:
        raise UsageError(
            f"not a pipeline: {text!r}",
            "give a pipeline id or its URL (…/-/pipelines/ID), or nothing for the newest",
        )
    return PipelineRef(found["origin"], found["path"].strip("/"), int(found["id"]))


def current_branch() -> str | None:
    """This directory's git branch (None outside a repository or on a detached HEAD)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    branch = done.stdout.strip()
    return branch if done.returncode == 0 and branch and branch != "HEAD" else None


def find_pipeline(
    gl: GitLab,
    project: str,
    ref: PipelineRef,
    branch: str | None,
    *,
    wait: float | None,
    tick: Callable[[str], None] = lambda text: None,
) -> dict[str, Any]:
    """The pipeline's JSON. With `wait` (seconds), a pipeline newer than the newest one now."""
    from urllib.parse import quote

    if ref.pipeline_id is not None:
        path = f"/projects/{quote(project, safe='')}/pipelines/{ref.pipeline_id}"
        body: dict[str, Any] = gl.get(path, what=f"pipeline {ref.pipeline_id} of {project}")
        return body
    if branch is None:
        raise UsageError(
            "which branch? this directory is not on a git branch",
            "pass --ref BRANCH, or a pipeline id or URL",
        )
    newest = gl.pipelines(project, ref=branch, per_page=1)
    if wait is None:
        if not newest:
            raise NotFoundError(
                f"no pipeline of {project} on {branch}", "push first, or pass --wait"
            )
        return newest[0]
    seen = int(newest[0]["id"]) if newest else 0
    deadline = time.monotonic() + wait
    while True:
        tick(f"waiting for a new pipeline of {project} on {branch}…")
        found = gl.pipelines(project, ref=branch, per_page=1)
        if found and int(found[0]["id"]) > seen:
            return found[0]
        if time.monotonic() >= deadline:
            raise JobStateError(
                f"no new pipeline of {project} on {branch} within {wait:g} s",
                "check that the push went through, or raise --wait-timeout",
            )
        time.sleep(0.5)
