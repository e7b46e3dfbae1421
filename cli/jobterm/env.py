"""The environment a command runs in: streams, terminals, directories. Tests build their own."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from jobterm.dirs import user_dir


@dataclass
class Environment:
    stdin: IO[bytes] = field(default_factory=lambda: sys.stdin.buffer)
    stdout: IO[bytes] = field(default_factory=lambda: sys.stdout.buffer)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def stdin_isatty(self) -> bool:
        return _isatty(self.stdin)

    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout)

    @property
    def config_dir(self) -> Path:
        """JOBTERM_CONFIG_DIR, else $XDG_CONFIG_HOME/jobterm, else ~/.config/jobterm."""
        return Path(user_dir(self.environ, "config"))

    @property
    def cache_dir(self) -> Path:
        """JOBTERM_CACHE_DIR, else $XDG_CACHE_HOME/jobterm, else ~/.cache/jobterm."""
        return Path(user_dir(self.environ, "cache"))


def _isatty(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False
