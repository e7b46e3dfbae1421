"""Cookies of the Chromium family (Chromium, Google Chrome, Brave, Microsoft Edge).

Where: a user data directory (`--user-data-dir`) holds profiles ("Default", "Profile 1", …);
a profile keeps its cookies in SQLite at `Network/Cookies` (`Cookies` before Chromium 96).
Table `cookies(host_key, name, value, encrypted_value, path, …)`, table `meta` (key
"version": the schema).

How values are sealed (`components/os_crypt` in Chromium's source):

* Linux: `v10` + AES-128-CBC, IV of 16 spaces, PKCS#7; key = PBKDF2-HMAC-SHA1(password,
  "saltysalt", 1 iteration, 16 bytes). The password is "peanuts" for `v10` (no OS keyring,
  or `--password-store=basic`); for `v11` it is a random one kept in the Secret Service
  ("Chromium Safe Storage", attribute application=chromium / chrome / brave …).
* macOS: `v10`, the same cipher; the password is the Keychain's "<Browser> Safe Storage"
  item, and PBKDF2 runs 1003 iterations.
* Windows: `v10` + AES-256-GCM (12-byte nonce, 16-byte tag) with the key from `Local State`
  (`os_crypt.encrypted_key`, "DPAPI" + a DPAPI blob of the current user). `v20`
  (application-bound, Chrome 127+) cannot be opened by another program: said so.
* Schema 24 and later put SHA-256(host_key) before the value: checked and removed. A wrong
  key shows as a padding error or a wrong hash, never as a plausible value.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from jobterm.browsers.store import Found, belongs_to, open_copy
from jobterm.core.hosts import Host
from jobterm.errors import BrowserError, ExitCode

HOST_HASH_SCHEMA = 24
_IV = b" " * 16
_SALT = b"saltysalt"


@dataclass(frozen=True)
class Kind:
    name: str
    linux: str  # user data dir under ~/.config
    mac: str  # under ~/Library/Application Support
    windows: str  # under %LOCALAPPDATA%
    safe_storage: str  # the keyring / Keychain item's name
    application: str  # the Secret Service attribute "application"


KINDS = {
    k.name: k
    for k in (
        Kind("chrome", "google-chrome", "Google/Chrome", "Google/Chrome/User Data",
             "Chrome Safe Storage", "chrome"),
        Kind("chromium", "chromium", "Chromium", "Chromium/User Data",
             "Chromium Safe Storage", "chromium"),
        Kind("brave", "BraveSoftware/Brave-Browser", "BraveSoftware/Brave-Browser",
             "BraveSoftware/Brave-Browser/User Data", "Brave Safe Storage", "brave"),
        Kind("edge", "microsoft-edge", "Microsoft Edge", "Microsoft/Edge/User Data",
             "Microsoft Edge Safe Storage", "microsoft-edge"),
    )
}  # fmt: skip


def user_data_dir(kind: Kind, environ: Mapping[str, str]) -> Path:
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / kind.mac
    if sys.platform == "win32":
        return Path(environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / kind.windows
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / kind.linux


def cookie_db(profile: Path) -> Path | None:
    for candidate in (profile / "Network" / "Cookies", profile / "Cookies"):
        if candidate.is_file():
            return candidate
    return None


def profiles(data_dir: Path) -> list[Path]:
    """The profiles of a user data dir that have cookies, "Default" first."""
    if not data_dir.is_dir():
        return []
    names = sorted(p.name for p in data_dir.iterdir() if p.is_dir())
    names.sort(key=lambda n: (n != "Default", not n.startswith("Profile ")))
    return [data_dir / n for n in names if cookie_db(data_dir / n) is not None]


def read(kind: Kind, profile: Path, host: Host, keys: KeySource | None = None) -> Found:
    """The kept cookies of `host` in one profile; BrowserError if they cannot be decrypted."""
    db = cookie_db(profile)
    assert db is not None  # profiles() and the caller checked
    found = Found(kind.name, str(profile))
    keys = keys or KeySource(kind, profile.parent)
    with open_copy(db, kind.name) as connection:
        version = _schema(connection)
        rows = connection.execute(  # oldest first: of two cookies of one name, the newest wins
            "SELECT host_key, name, value, encrypted_value, path, is_secure FROM cookies "
            "ORDER BY creation_utc, rowid"
        ).fetchall()
    for host_key, name, value, sealed, path, secure in rows:
        if not (isinstance(host_key, str) and isinstance(name, str) and _wanted(name)):
            continue  # a row a browser would not have written (NULL, a BLOB): not a cookie
        if not belongs_to(host_key, path if isinstance(path, str) else "/", host, bool(secure)):
            continue
        if isinstance(value, str) and value:
            found.keep(name, value)
        elif isinstance(sealed, bytes) and sealed:
            found.keep(name, keys.open(sealed, host_key, version >= HOST_HASH_SCHEMA))
    return found


def _wanted(name: str) -> bool:
    from jobterm.core.cookies import is_kept_name

    return is_kept_name(name)


def _schema(connection: object) -> int:
    import sqlite3

    assert isinstance(connection, sqlite3.Connection)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):
        return 0


class KeySource:
    """The keys that may open a value, found lazily (a keyring is asked only when needed)."""

    def __init__(self, kind: Kind, data_dir: Path, keyring_password: bytes | None = None):
        self.kind = kind
        self.data_dir = data_dir
        self._keyring_password = keyring_password
        self._asked_keyring = keyring_password is not None

    def open(self, sealed: bytes, host_key: str, hashed: bool) -> str:
        prefix, body = sealed[:3], sealed[3:]
        if prefix == b"v20":
            raise BrowserError(
                f"{self.kind.name} seals its cookies with application-bound encryption (v20), "
                "which only the browser itself can open",
                "copy the cookie by hand: `jobterm login HOST --cookie`",
                code=ExitCode.COOKIE_DECRYPT,
            )
        if prefix not in (b"v10", b"v11"):
            raise self._failed("an unknown format")
        for decrypt in self._decrypters(prefix):
            plain = decrypt(body)
            if plain is None:
                continue
            value = _strip_host_hash(plain, host_key, hashed)
            if value is not None:
                return value
        reason = "the keyring password did not open them" if prefix == b"v11" else "wrong key"
        raise self._failed(reason)

    def _decrypters(self, prefix: bytes) -> Iterator[Callable[[bytes], bytes | None]]:
        if sys.platform == "win32":
            yield from self._windows()
            return
        if sys.platform == "darwin":
            password = self._keyring()
            if password is not None:
                yield _cbc(_derive(password, 1003))
            return
        if prefix == b"v11":
            password = self._keyring()
            if password is not None:
                yield _cbc(_derive(password, 1))
            yield _cbc(_derive(b"", 1))  # written when the keyring gave an empty password
        yield _cbc(_derive(b"peanuts", 1))

    def _keyring(self) -> bytes | None:
        if not self._asked_keyring:
            self._asked_keyring = True
            from jobterm.browsers.keys import safe_storage_password

            self._keyring_password = safe_storage_password(self.kind)
        return self._keyring_password

    def _windows(self) -> Iterator[Callable[[bytes], bytes | None]]:
        from jobterm.browsers.keys import windows_key

        key = windows_key(self.data_dir)
        if key is not None:
            yield _gcm(key)

    def _failed(self, reason: str) -> BrowserError:
        return BrowserError(
            f"cannot decrypt {self.kind.name}'s cookies ({reason})",
            f"unlock your desktop keyring (it holds '{self.kind.safe_storage}'), "
            "or copy the cookie by hand with --cookie",
            code=ExitCode.COOKIE_DECRYPT,
        )


def _derive(password: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", password, _SALT, iterations, 16)


def _cbc(key: bytes) -> Callable[[bytes], bytes | None]:
    def decrypt(body: bytes) -> bytes | None:
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if not body or len(body) % 16:
            return None
        decryptor = Cipher(algorithms.AES(key), modes.CBC(_IV)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:  # bad padding: the wrong key
            return None

    return decrypt


def _gcm(key: bytes) -> Callable[[bytes], bytes | None]:
    def decrypt(body: bytes) -> bytes | None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(key).decrypt(body[:12], body[12:], None)
        except (InvalidTag, ValueError):
            return None

    return decrypt


def _strip_host_hash(plain: bytes, host_key: str, hashed: bool) -> str | None:
    if hashed:
        if plain[:32] != hashlib.sha256(host_key.encode()).digest():
            return None
        plain = plain[32:]
    try:
        return plain.decode("ascii")  # cookie values are ASCII: anything else is a wrong key
    except UnicodeDecodeError:
        return None


def seal(value: str, host_key: str, *, password: bytes = b"peanuts", prefix: bytes = b"v10",
         hashed: bool = True) -> bytes:  # fmt: skip
    """Encrypt a value as Chromium on Linux does (for tests that build cookie stores)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    plain = (hashlib.sha256(host_key.encode()).digest() if hashed else b"") + value.encode()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_derive(password, 1)), modes.CBC(_IV)).encryptor()
    return prefix + encryptor.update(padded) + encryptor.finalize()
