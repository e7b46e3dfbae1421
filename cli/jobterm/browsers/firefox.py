"""Cookies of Firefox (and Firefox ESR).

Where: `profiles.ini` in the Firefox directory names the profiles (`[ProfileN]` Name, Path,
IsRelative, Default; `[Install…]` Default = the profile the installed Firefox opens).

What: `cookies.sqlite`, table `moz_cookies(host, name, value, path, expiry, …)`, plain values,
holds cookies that have an expiry (`remember_user_token`). Session cookies such as
`_gitlab_session` live only in the session store: `sessionstore-backups/recovery.jsonlz4`
while Firefox runs, `sessionstore.jsonlz4` once it has closed. Those files are mozLz4: the
magic `mozLz40\\0`, then an LZ4 block with its 4-byte little-endian size in front (what
`lz4.block.decompress` reads by default); inside, JSON with a top-level `cookies` list of
{host, name, value, path, …}.
"""

from __future__ import annotations

import configparser
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobterm.browsers.store import Found, belongs_to, open_copy
from jobterm.core.hosts import Host

MOZLZ4_MAGIC = b"mozLz40\0"
SESSION_STORES = ("sessionstore-backups/recovery.jsonlz4", "sessionstore.jsonlz4")


class MozLz4Error(ValueError):
    """Not a mozLz4 file, or a damaged one."""


def firefox_dirs(environ: Mapping[str, str]) -> list[Path]:
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return [home / "Library" / "Application Support" / "Firefox"]
    if sys.platform == "win32":
        return [Path(environ.get("APPDATA", home / "AppData" / "Roaming")) / "Mozilla" / "Firefox"]
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [home / ".mozilla" / "firefox", config / "mozilla" / "firefox"]


def profiles(root: Path) -> list[tuple[str, Path]]:
    """(name, directory) of each profile in `root`'s profiles.ini, the default one first."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "profiles.ini", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return []
    defaults = {s.get("Default", "") for n, s in parser.items() if n.startswith("Install")}
    found: list[tuple[bool, str, Path]] = []
    for section_name, section in parser.items():
        if not section_name.startswith("Profile") or "Path" not in section:
            continue
        relative = section.get("IsRelative", "1") == "1"
        directory = root / section["Path"] if relative else Path(section["Path"])
        first = section["Path"] in defaults or section.get("Default") == "1"
        found.append((not first, section.get("Name", section["Path"]), directory))
    found.sort(key=lambda item: item[0])
    return [(name, directory) for _, name, directory in found]


def is_profile(directory: Path) -> bool:
    return (directory / "cookies.sqlite").is_file() or any(
        (directory / store).is_file() for store in SESSION_STORES
    )


def read(profile: Path, host: Host) -> Found:
    found = Found("firefox", str(profile))
    db = profile / "cookies.sqlite"
    if db.is_file():
        with open_copy(db, "firefox") as connection:
            rows = connection.execute(  # oldest first: the newest of a name wins
                "SELECT host, name, value, path, isSecure FROM moz_cookies "
                "ORDER BY creationTime, id"
            ).fetchall()
        for host_key, name, value, path, secure in rows:
            if not all(isinstance(v, str) for v in (host_key, name, value)):
                continue  # a row Firefox would not have written (NULL, a BLOB)
            if belongs_to(host_key, path if isinstance(path, str) else "/", host, bool(secure)):
                found.keep(name, value)
    for cookie in _session_cookies(profile, found):
        where = (str(cookie.get("host", "")), str(cookie.get("path", "/")))
        if belongs_to(*where, host, cookie.get("secure") is True):
            found.keep(str(cookie.get("name", "")), str(cookie.get("value", "")))
    return found


def _session_cookies(profile: Path, found: Found) -> list[dict[str, Any]]:
    """The session store's cookies; the newest store wins (recovery while running)."""
    stores = [profile / s for s in SESSION_STORES if (profile / s).is_file()]
    stores.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for store in stores:
        try:
            data = json.loads(read_mozlz4(store.read_bytes()))
        except (OSError, MozLz4Error, ValueError) as exc:
            found.notes.append(f"{store.name} unreadable ({exc})")
            continue
        cookies = data.get("cookies") if isinstance(data, dict) else None
        if isinstance(cookies, list):
            return [c for c in cookies if isinstance(c, dict)]
    return []


def read_mozlz4(data: bytes) -> bytes:
    import lz4.block

    if not data.startswith(MOZLZ4_MAGIC):
        raise MozLz4Error("no mozLz4 header")
    try:
        out: bytes = lz4.block.decompress(data[len(MOZLZ4_MAGIC) :])
    except (lz4.block.LZ4BlockError, ValueError) as exc:
        raise MozLz4Error(f"damaged LZ4 block: {exc}") from None
    return out


def write_mozlz4(payload: bytes) -> bytes:
    """mozLz4 as Firefox writes it (for tests that build a session store)."""
    import lz4.block

    compressed: bytes = lz4.block.compress(payload, store_size=True)
    return MOZLZ4_MAGIC + compressed
