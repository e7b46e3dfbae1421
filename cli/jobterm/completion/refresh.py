"""The detached refresher of the completion cache: `python -m jobterm.completion.refresh
refresh HOST (--project P | --projects)`, started by `cache.start_refresh` when an entry is
stale. It is the only part of completion that talks to GitLab (through jobterm.jobs), kept
apart from `cache` so that nothing a Tab imports depends on the jobs package.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from jobterm.completion.cache import (
    CACHED_JOBS,
    JOB_STATUSES,
    forget_host,
    remember_jobs,
    remember_projects,
    touch_entry,
    unlock,
)

if TYPE_CHECKING:
    from jobterm.env import Environment


def refresh(env: Environment, host: str, project: str | None) -> int:
    """Fetch one entry and store it (the detached refresher's work). Exit status."""
    from jobterm.errors import AuthError, JobtermError
    from jobterm.gitlab.session import open_gitlab
    from jobterm.jobs.listing import list_jobs

    cache_dir = env.cache_dir
    try:
        # check=True: an expired session is renewed (remember-me) here, in the background
        with open_gitlab(env, host, need_web_session=False, check=True) as gl:
            if project is None:
                remember_projects(cache_dir, host, gl.projects(membership=True, max_pages=3))
            else:
                jobs = list_jobs(gl, project, JOB_STATUSES, limit=CACHED_JOBS)
                remember_jobs(cache_dir, host, project, jobs)
        return 0
    except AuthError:
        # Signed out or expired: offer nothing, as when signed out (an empty, fresh entry).
        forget_host(cache_dir, host)
        touch_entry(cache_dir, host, project)
        return 3
    except (JobtermError, OSError, ValueError, KeyError, TypeError):
        touch_entry(cache_dir, host, project)  # keep what we had; try again after the TTL
        return 1
    finally:
        unlock(cache_dir, host, project)


def main(argv: list[str]) -> int:
    """`python -m jobterm.completion.refresh refresh HOST (--project P | --projects)`."""
    from jobterm.env import Environment

    if len(argv) == 4 and argv[0] == "refresh" and argv[2] == "--project":
        return refresh(Environment(), argv[1], argv[3])
    if len(argv) == 3 and argv[0] == "refresh" and argv[2] == "--projects":
        return refresh(Environment(), argv[1], None)
    sys.stderr.write(
        "usage: python -m jobterm.completion.refresh refresh HOST (--project P | --projects)\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
