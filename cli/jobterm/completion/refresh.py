"""The detached refresher: fetch one entry of the completion cache from GitLab and store it.

`cache.start_refresh` runs `python -m jobterm.completion.refresh HOST (--project P |
--projects)` in its own session with stdio on /dev/null, when a Tab finds an entry stale or
missing. This is the one module of the package that reaches the network, and nothing in it
runs on a Tab; it lives apart from `cache.py` because it uses `jobterm.jobs`, which itself
writes the cache (`jobterm jobs` warms completion).
"""

from __future__ import annotations

import sys

from jobterm.completion.cache import (
    CACHED_JOBS,
    JOB_STATUSES,
    forget_host,
    remember_jobs,
    remember_projects,
    touch_entry,
    unlock,
)
from jobterm.env import Environment
from jobterm.errors import AuthError, JobtermError
from jobterm.gitlab.session import open_gitlab
from jobterm.jobs.listing import list_jobs


def refresh(env: Environment, host: str, project: str | None) -> int:
    """Fetch one entry and store it (the detached refresher's work). Exit status."""
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
    """`python -m jobterm.completion.refresh HOST (--project P | --projects)`."""
    if len(argv) == 3 and argv[1] == "--project":
        return refresh(Environment(), argv[0], argv[2])
    if len(argv) == 2 and argv[1] == "--projects":
        return refresh(Environment(), argv[0], None)
    sys.stderr.write(
        "usage: python -m jobterm.completion.refresh HOST (--project P | --projects)\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
