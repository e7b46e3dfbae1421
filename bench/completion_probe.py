"""A shell completion answered from jobterm's cache: `jobterm attach --project P <TAB>`.

`jobterm jobs` fills the completion cache (as a user's earlier command would); then the shell's
request is timed exactly as bash sends it (`_JOBTERM_COMPLETE=complete_bash`, COMP_WORDS,
COMP_CWORD), and the answer must offer the running job 101.
"""

from __future__ import annotations

import subprocess
from typing import Any

import startup
from world import Unavailable, World, jobterm_argv

PROJECT = "demo/webapp"


def measure(world: World, runs: int) -> dict[str, Any]:
    warm = subprocess.run(
        [*jobterm_argv(), "jobs", "--project", PROJECT],
        env=world.env,
        capture_output=True,
        timeout=60,
    )
    if warm.returncode != 0:
        raise Unavailable(f"`jobterm jobs` failed ({warm.returncode}), so no cache to answer from")
    words = f"jobterm attach --project {PROJECT} "
    env = dict(
        world.env,
        _JOBTERM_COMPLETE="complete_bash",
        COMP_WORDS=words,
        COMP_CWORD=str(len(words.split())),
    )
    return startup.median_of(
        runs, lambda: startup.wall(jobterm_argv(), env, ok=lambda out: b"101" in out)
    )
