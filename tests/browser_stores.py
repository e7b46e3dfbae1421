"""Cookie stores built the way the browsers write them, for the `--from-browser` reader tests.

* `chromium_profile(user_data_dir, cookies, ...)`: `<dir>/Default/Cookies` (or
  `Default/Network/Cookies`) with Chromium's `cookies` and `meta` tables (the schema a
  Debian chromium 156 writes, version 24), values sealed with `jobterm.browsers.chromium.seal`
  (v10/v11, with or without the host hash).
* `firefox_profile(root, name, cookies=..., session=...)`: `profiles.ini` plus a profile with
  `cookies.sqlite` (Firefox's `moz_cookies` table, WAL mode with the rows left in the `-wal`
  file, as a running Firefox leaves them) and a mozLz4 session store.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from jobterm.browsers.chromium import seal
from jobterm.browsers.firefox import write_mozlz4

CHROMIUM_COOKIES = (
    "CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,"
    "top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,"
    "encrypted_value BLOB NOT NULL,path TEXT NOT NULL,expires_utc INTEGER NOT NULL,"
    "is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,last_access_utc INTEGER NOT NULL,"
    "has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,priority INTEGER NOT NULL,"
    "samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,source_port INTEGER NOT NULL,"
    "last_update_utc INTEGER NOT NULL,source_type INTEGER NOT NULL,"
    "has_cross_site_ancestor INTEGER NOT NULL)"
)
CHROMIUM_META = "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR)"

FIREFOX_COOKIES = (
    "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL "
    "DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, "
    "lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, "
    "inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, "
    "schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, "
    "CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))"
)

# (host_key, name, value, path)
Cookie = tuple[str, str, str, str]


def chromium_profile(
    user_data_dir: Path,
    cookies: list[Cookie],
    *,
    version: int = 24,
    prefix: bytes = b"v10",
    password: bytes = b"peanuts",
    network_dir: bool = False,
    plain: bool = False,
    profile: str = "Default",
    secure: bool = False,
) -> Path:
    """A profile whose cookie DB holds `cookies`; returns the profile directory."""
    directory = user_data_dir / profile
    db = directory / "Network" / "Cookies" if network_dir else directory / "Cookies"
    db.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(db)
    with connection:
        connection.execute(CHROMIUM_META)
        connection.execute(CHROMIUM_COOKIES)
        connection.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("mmap_status", "-1"),
                ("version", str(version)),
                ("last_compatible_version", str(version)),
            ],
        )
        for host_key, name, value, path in cookies:
            sealed = (
                b""
                if plain
                else seal(value, host_key, password=password, prefix=prefix, hashed=version >= 24)
            )
            connection.execute(
                "INSERT INTO cookies VALUES (0, ?, '', ?, ?, ?, ?, 0, ?, 1, 0, 0, 0, 1, 1, 2, 80,"
                " 0, 0, 0)",
                (host_key, name, value if plain else "", sealed, path, int(secure)),
            )
    connection.close()
    return directory


def firefox_profile(
    root: Path,
    name: str,
    *,
    cookies: list[Cookie] | None = None,
    session: list[Cookie] | None = None,
    running: bool = True,
    default: bool = True,
    secure: bool = False,
) -> tuple[Path, sqlite3.Connection | None]:
    """A profile listed in `root/profiles.ini`. With `running`, the cookies stay in the -wal
    file (the returned connection holds it open: close it to end the "browser") and the
    session store is `recovery.jsonlz4`; otherwise `sessionstore.jsonlz4`."""
    directory = root / f"abcd1234.{name}"
    directory.mkdir(parents=True)
    ini = root / "profiles.ini"
    count = ini.read_text().count("[Profile") if ini.exists() else 0
    with ini.open("a") as handle:
        handle.write(
            f"[Profile{count}]\nName={name}\nIsRelative=1\nPath={directory.name}\n"
            + ("Default=1\n" if default else "")
            + "\n"
        )
    connection = sqlite3.connect(directory / "cookies.sqlite")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # keep the rows in the -wal file
    connection.execute(FIREFOX_COOKIES)
    for host, cname, value, cpath in cookies or []:
        connection.execute(
            "INSERT INTO moz_cookies (name, value, host, path, expiry, isSecure)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (cname, value, host, cpath, 4102444800, int(secure)),
        )
    connection.commit()
    if session is not None:
        store = "sessionstore-backups/recovery.jsonlz4" if running else "sessionstore.jsonlz4"
        path = directory / store
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": ["sessionrestore", 1],
            "windows": [],
            "cookies": [
                {"host": h, "name": n, "value": v, "path": p, "httponly": True}
                | ({"secure": True} if secure else {})
                for h, n, v, p in session
            ],
        }
        path.write_bytes(write_mozlz4(json.dumps(data).encode()))
    if running:
        return directory, connection
    connection.close()
    return directory, None


def firefox_session_json(path: Path) -> dict[str, object]:
    from jobterm.browsers.firefox import read_mozlz4

    data: dict[str, object] = json.loads(read_mozlz4(path.read_bytes()))
    return data
