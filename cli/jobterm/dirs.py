"""Where jobterm keeps its files: JOBTERM_CONFIG_DIR / JOBTERM_CACHE_DIR, else the XDG base
directories ($XDG_CONFIG_HOME/jobterm, $XDG_CACHE_HOME/jobterm), else ~/.config/jobterm and
~/.cache/jobterm.

One home for the rule, used by `Environment` (the commands) and by completion, which reads
the same config and cache on every Tab and so may import only os from here.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def user_dir(environ: Mapping[str, str], kind: str) -> str:
    """jobterm's `kind` directory ("config" or "cache") for the environment `environ`."""
    explicit = environ.get(f"JOBTERM_{kind.upper()}_DIR")
    if explicit:
        return explicit
    home = environ.get("HOME") or os.path.expanduser("~")
    base = environ.get(f"XDG_{kind.upper()}_HOME") or os.path.join(home, "." + kind)
    return os.path.join(base, "jobterm")
