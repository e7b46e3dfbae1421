"""Facts learned from a host's REST API, kept between runs so that the next command need not
ask again. Today one kind: the full path a numeric project id names (`--project 42`,
`42#101`), which is what lets such a reference connect to the terminal at once.

Invalidation rule: facts belong to the session that learned them. Each host's entry holds a
digest of the session cookie; another session (a new login, a renewal) or none (logout)
makes the whole entry void, and so does age (`MAX_AGE`: a project may be renamed). A fact
that led to a refused handshake is forgotten before REST is asked why (`forget_project`).

The file (`<cache dir>/facts.json`, 0600) holds no secret: paths, ids, and a truncated
SHA-256 of the session cookie, which cannot be turned back into it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from jobterm.files import load_json, read_back, write_private

FILE = "facts.json"
MAX_AGE = 24 * 3600.0


def session_digest(cookie_header: str) -> str:
    return hashlib.sha256(cookie_header.encode()).hexdigest()[:16]


class Facts:
    """The facts of one host for one session."""

    def __init__(self, cache_dir: Path, host: str, cookie_header: str) -> None:
        self.path = cache_dir / FILE
        self.host = host
        self.session = session_digest(cookie_header)

    def _all(self) -> dict[str, Any]:
        try:
            data = load_json(read_back(self.path))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _entry(self) -> dict[str, Any]:
        entry = self._all().get(self.host)
        if not isinstance(entry, dict) or entry.get("session") != self.session:
            return {}
        if not isinstance(entry.get("saved"), (int, float)):
            return {}
        return entry if time.time() - entry["saved"] < MAX_AGE else {}

    def project_path(self, project_id: str) -> str | None:
        path = self._entry().get("projects", {}).get(project_id)
        return path if isinstance(path, str) and path else None

    def remember_project(self, project_id: str, path: str) -> None:
        entry = self._entry() or {"session": self.session, "saved": time.time()}
        entry.setdefault("projects", {})[project_id] = path
        self._save(entry)

    def forget_project(self, project_id: str) -> None:
        entry = self._entry()
        if entry.get("projects", {}).pop(project_id, None) is not None:
            self._save(entry)

    def _save(self, entry: dict[str, Any]) -> None:
        data = self._all()
        data[self.host] = entry
        with contextlib.suppress(OSError):  # a cache that cannot be written is no error
            write_private(self.path, json.dumps(data, indent=1) + "\n")
