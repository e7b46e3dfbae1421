"""Where a host's secrets live: the OS keyring, or (only when asked) a 0600 file.

One keyring entry per host (service "jobterm", user name = the host's name), holding a small
JSON object: the cookies the server set (`_gitlab_session*`, `remember_user_token`,
`known_sign_in`, ...) and the personal access token if one was given. Never the password.

keyring picks its backend (the OS keyring, or whatever `PYTHON_KEYRING_BACKEND` or keyring's
config names; found once and remembered, see keyring_backend.py). When it has none that
works (`fail.Keyring`, an empty chainer) we say so and how to fix it; `--insecure-storage`
opts into `<config dir>/secrets.json`, mode 0600, as glab does.
"""

from __future__ import annotations

import contextlib
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobterm.env import Environment
from jobterm.errors import ConfigError
from jobterm.files import BadText, Locked, decode_utf8, load_json, read_back
from jobterm.gitlab.config import FILE, KEYRING, save_private

SERVICE = "jobterm"
SECRETS_FILE = "secrets.json"


@dataclass
class Secrets:
    cookies: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def to_json(self) -> str:
        return json.dumps({"cookies": self.cookies, "token": self.token})

    @classmethod
    def from_data(cls, data: Any) -> Secrets:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        cookies = data.get("cookies") or {}
        token = data.get("token")
        if not isinstance(cookies, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in cookies.items()
        ):
            raise ValueError("cookies")
        if token is not None and not isinstance(token, str):
            raise ValueError("token")
        return cls(dict(cookies), token)

    def __repr__(self) -> str:  # never print the values, even in a traceback's locals
        return f"Secrets(cookies={sorted(self.cookies)}, token={'set' if self.token else None})"


def no_keyring_error(host_name: str, backend: str) -> ConfigError:
    return ConfigError(
        f"no usable keyring to keep the secrets for {host_name} (keyring backend: {backend})",
        "start or unlock your desktop keyring (GNOME Keyring, KWallet, macOS Keychain), or "
        "choose one with PYTHON_KEYRING_BACKEND, or pass --insecure-storage to keep them in a "
        "file only you can read",
    )


class SecretStore:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.file_path = env.config_dir / SECRETS_FILE

    # -- keyring -------------------------------------------------------------------------

    def _keyring(self, host_name: str, *, fresh: bool = False) -> Any:
        from jobterm.gitlab.keyring_backend import backend_name, chosen_backend, keeps_secrets

        backend = chosen_backend(self.env.cache_dir, fresh=fresh)
        if not keeps_secrets(backend):
            raise no_keyring_error(host_name, backend_name(backend))
        return backend

    def keyring_name(self) -> str:
        from jobterm.gitlab.keyring_backend import backend_name, chosen_backend

        return backend_name(chosen_backend(self.env.cache_dir))

    def _keyring_call(self, host_name: str, action: str, *args: str) -> Any:
        from keyring.errors import KeyringError, PasswordDeleteError

        from jobterm.gitlab.keyring_backend import backend_name

        backend = self._keyring(host_name)
        try:
            return getattr(backend, action)(SERVICE, host_name, *args)
        except PasswordDeleteError:
            return None
        except KeyringError as exc:
            raise ConfigError(
                f"the keyring ({backend_name(backend)}) failed for {host_name}: "
                f"{type(exc).__name__}",
                "unlock your keyring, or pass --insecure-storage to `jobterm login`",
            ) from None

    # -- file ----------------------------------------------------------------------------

    def _read_file(self) -> dict[str, Any]:
        try:
            data = load_json(decode_utf8(read_back(self.file_path)))
        except FileNotFoundError:
            return {}
        except BadText as exc:  # only where: the file holds secrets
            raise ConfigError(f"{self.file_path}: {exc}", "delete it and sign in again") from None
        except (OSError, ValueError):
            raise ConfigError(
                f"{self.file_path} is unreadable or damaged", "delete it and sign in again"
            ) from None
        return data if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, Any]) -> None:
        save_private(self.file_path, json.dumps(data, indent=2) + "\n")

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """The file's lock, for a read-modify-write that a parallel jobterm cannot undo."""
        try:
            with Locked(self.file_path):
                yield
        except OSError as exc:
            raise ConfigError(
                f"cannot lock {self.file_path}: {exc.strerror}",
                "check the permissions of the config directory (JOBTERM_CONFIG_DIR)",
            ) from exc

    # -- the API -------------------------------------------------------------------------

    def load(self, host_name: str, where: str) -> Secrets | None:
        if where == FILE:
            raw = self._read_file().get(host_name)
        else:
            text = self._keyring_call(host_name, "get_password")
            try:
                raw = None if text is None else json.loads(text)
            except ValueError:
                raw = {}
        if raw is None:
            return None
        try:
            return Secrets.from_data(raw)
        except ValueError:
            raise ConfigError(
                f"the stored secrets for {host_name} are damaged",
                f"run `jobterm login {host_name}` again",
            ) from None

    def save(self, host_name: str, secrets: Secrets, where: str) -> None:
        if where == FILE:
            with self._file_lock():
                data = self._read_file()
                data[host_name] = json.loads(secrets.to_json())
                self._write_file(data)
        else:
            self._keyring_call(host_name, "set_password", secrets.to_json())

    def check_usable(self, host_name: str, where: str) -> None:
        """Raise ConfigError now if secrets could not be saved `where` later (signing in:
        the keyring backend is found afresh, see gitlab/keyring_backend.py)."""
        if where == KEYRING:
            self._keyring(host_name, fresh=True)

    def delete_from(self, host_name: str, where: str) -> None:
        if where == FILE:
            with self._file_lock():
                data = self._read_file()
                if host_name in data:
                    del data[host_name]
                    self._write_file(data)
        else:
            self._keyring_call(host_name, "delete_password")

    def delete(self, host_name: str) -> None:
        """Remove the host's secrets from both places (the keyring only if one is usable)."""
        self.delete_from(host_name, FILE)
        with contextlib.suppress(ConfigError):  # no usable keyring: nothing can be there
            self.delete_from(host_name, KEYRING)

    def describe(self, where: str) -> str:
        """Where the secrets are, for `auth status` (never the secrets)."""
        if where == FILE:
            return f"file {self.file_path} (mode {file_mode(self.file_path)})"
        try:
            return f"keyring ({self.keyring_name()})"
        except Exception:
            return "keyring (unavailable)"


def file_mode(path: Path) -> str:
    try:
        return f"{stat.S_IMODE(path.stat().st_mode):04o}"
    except OSError:
        return "missing"


def storage_for(insecure_storage: bool) -> str:
    return FILE if insecure_storage else KEYRING
