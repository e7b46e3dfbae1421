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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobterm.core.hosts import Host, parse_host
from jobterm.env import Environment
from jobterm.errors import ConfigError, UsageError
from jobterm.files import BadText, Locked, decode_utf8, load_json, read_back, write_private

CONFIG_FILE = "config.json"
KEYRING = "keyring"
FILE = "file"
_FIX = "fix it, or delete it and sign in again with `jobterm login HOST`"


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
        save_private(self.path, json.dumps(data, indent=2) + "\n")

    def put(self, name: str, entry: HostConfig) -> None:
        """Add or replace a host; the first one becomes the default."""
        self.hosts[name] = entry
        if self.default_host not in self.hosts:
            self.default_host = name

    def forget(self, name: str) -> None:
        self.hosts.pop(name, None)
        if self.default_host == name:
            self.default_host = next(iter(sorted(self.hosts)), None)


def load_config(env: Environment) -> Config:
    path = env.config_dir / CONFIG_FILE
    try:
        text = decode_utf8(read_back(path))
    except FileNotFoundError:
        return Config(path)
    except OSError as exc:
        hint = "check its permissions" if exc.errno != 40 else _FIX  # ELOOP: a symbolic link
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint) from None
    except BadText as exc:
        raise ConfigError(f"{path}: {exc}", _FIX) from None
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}", _FIX
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", _FIX) from None
    try:
        return _parse(path, data)
    except (ValueError, TypeError, KeyError, AttributeError, UsageError) as exc:
        detail = str(exc) if isinstance(exc, (ValueError, UsageError)) else type(exc).__name__
        raise ConfigError(f"{path} is not a valid jobterm config ({detail})", _FIX) from exc


def update_config(env: Environment, change: Callable[[Config], None]) -> Config:
    """Read the config, `change` it and write it back, holding its lock all along: a
    parallel jobterm (another `login`) cannot slip a write in between and lose it."""
    path = env.config_dir / CONFIG_FILE
    try:
        with Locked(path):
            config = load_config(env)
            change(config)
            config.save()
    except OSError as exc:
        raise _write_error(path, exc) from exc
    return config


def _parse(path: Path, data: Any) -> Config:
    if not isinstance(data, dict) or not isinstance(data.get("hosts", {}), dict):
        raise ValueError("it must be a JSON object with a hosts object")
    hosts: dict[str, HostConfig] = {}
    known = set(HostConfig.__dataclass_fields__)
    for name, raw in data.get("hosts", {}).items():
        if not isinstance(raw, dict):
            raise ValueError(f"hosts.{name} is not an object")
        entry = HostConfig(**{k: v for k, v in raw.items() if k in known})
        entry.host  # noqa: B018 - validates base_url (UsageError if broken)
        hosts[str(name)] = entry
    default = data.get("default_host")
    return Config(path, default if isinstance(default, str) else None, hosts)


def save_private(path: Path, text: str) -> None:
    """`files.write_private`, its failure as a ConfigError that says what to check."""
    try:
        write_private(path, text)
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _write_error(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write {path}: {exc.strerror}",
        "check the permissions of the config directory (JOBTERM_CONFIG_DIR)",
    )
