"""jobterm: attach to a running GitLab CI job's web terminal from the command line."""

from __future__ import annotations

__version__ = "0.1.0"
