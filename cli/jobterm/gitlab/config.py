"""The non-secret config: which GitLab hosts you signed in to, and how to reach them.

`<config dir>/config.json` (JOBTERM_CONFIG_DIR, else $XDG_CONFIG_HOME/jobterm):

    {"default_host": "gitlab.example.com",
     "hosts": {"gitlab.example.com": {"base_url": "https://gitlab.example.com",
                                      "username": "demo", "user_id": 1,
                                      "ca_cert": null, "insecure_http": false,
                                      "secrets": "keyring"}}}

Secrets never go here: they live in the keyring (`credentials.py`), or with
`--insecure-storage` in a separate 0600 file. `secrets` says which.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobterm.core.hosts import Host, parse_host
from jobterm.env import Environment
from jobterm.errors import ConfigError, UsageError

CONFIG_FILE = "config.json"
KEYRING = "keyring"
FILE = "file"


@dataclass
class HostConfig:
    base_url: str
    username: str | None = None
    user_id: int | None = None
    ca_cert: str | None = None
    insecure_http: bool = False
    secrets: str = KEYRING  # where this host's secrets are: "keyring" or "file"

    @property
    def host(self) -> Host:
        return parse_host(self.base_url)


@dataclass
class Config:
    path: Path
    default_host: str | None = None
    hosts: dict[str, HostConfig] = field(default_factory=dict)

    def known_hosts(self) -> list[Host]:
        return [entry.host for entry in self.hosts.values()]

    def save(self) -> None:
        data = {
            "default_host": self.default_host,
            "hosts": {name: asdict(entry) for name, entry in sorted(self.hosts.items())},
        }
        write_private(self.path, json.dumps(data, indent=2) + "\n")

    def forget(self, name: str) -> None:
        self.hosts.pop(name, None)
        if self.default_host == name:
            self.default_host = next(iter(sorted(self.hosts)), None)


def load_config(env: Environment) -> Config:
    path = env.config_dir / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "check its permissions") from exc
    try:
        return _parse(path, json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError, UsageError) as exc:
        raise ConfigError(
            f"{path} is not a valid jobterm config ({type(exc).__name__})",
            "fix it, or delete it and sign in again with `jobterm login HOST`",
        ) from exc


def _parse(path: Path, data: Any) -> Config:
    if not isinstance(data, dict) or not isinstance(data.get("hosts", {}), dict):
        raise ValueError("not an object")
    hosts: dict[str, HostConfig] = {}
    known = set(HostConfig.__dataclass_fields__)
    for name, raw in data.get("hosts", {}).items():
        if not isinstance(raw, dict):
            raise ValueError(f"host {name}")
        entry = HostConfig(**{k: v for k, v in raw.items() if k in known})
        entry.host  # noqa: B018 - validates base_url (UsageError if broken)
        hosts[str(name)] = entry
    default = data.get("default_host")
    return Config(path, default if isinstance(default, str) else None, hosts)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by its owner only (directory 0700)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # umask or an old file must not widen it
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror}",
            "check the permissions of the config directory (JOBTERM_CONFIG_DIR)",
        ) from exc
