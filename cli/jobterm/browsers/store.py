"""What the Chromium and Firefox readers share.

* A browser keeps its cookie database open while it runs (Firefox locks it, and both write
  through a `-wal` journal). `open_copy` copies the file with its `-wal`/`-journal` into a
  private temporary directory and opens the copy read-only, so a running browser is neither
  disturbed nor able to block us, and recent writes still in the journal are seen.
* `belongs_to(host_key, path, host)`: a cookie stored for `gitlab.example.com` (host-only) or
  for `.example.com` (a domain cookie) is sent to `gitlab.example.com`; its path must lie on
  or above the instance's relative URL root. Ports play no part, as in browsers. A cookie
  marked Secure goes only to https (or this machine), as a browser sends it: with
  `--insecure-http` to a remote host, a session the browser keeps for https is not sent in
  clear text.
* `Found`: the cookies jobterm keeps (the session, remember-me, known_sign_in) and where they
  came from, for the message that names the browser and profile.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jobterm.core.cookies import is_kept_name, is_session_name
from jobterm.core.hosts import Host
from jobterm.errors import BrowserError, ExitCode

JOURNALS = ("-wal", "-journal", "-shm")


@dataclass
class Found:
    browser: str  # "chromium", "firefox", ...
    profile: str  # the profile directory, as shown to the user
    cookies: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # why nothing was found, for the error

    @property
    def has_session(self) -> bool:
        return any(is_session_name(name) for name in self.cookies)

    def keep(self, name: str, value: str) -> None:
        """Keep a cookie jobterm stores; a session cookie first, as ImportedCookies wants."""
        if is_kept_name(name) and value:
            self.cookies[name] = value

    def ordered(self) -> dict[str, str]:
        sessions = {n: v for n, v in self.cookies.items() if is_session_name(n)}
        return {**sessions, **{n: v for n, v in self.cookies.items() if n not in sessions}}


def belongs_to(host_key: str, path: str, host: Host, secure: bool = False) -> bool:
    if secure and host.scheme != "https" and not host.is_loopback:
        return False
    host_key = host_key.lower()
    name = host.hostname
    if host_key.startswith(".") and _is_address(name):
        return False  # browsers keep no domain cookies for an IP address: host-only alone
    if host_key.startswith("."):
        domain = host_key[1:]
        if name != domain and not name.endswith(host_key):
            return False
    elif host_key != name:
        return False
    path = path or "/"
    root = host.root + "/"
    return root.startswith(path.rstrip("/") + "/") or path.startswith(root)


def _is_address(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@contextmanager
def open_copy(db: Path, browser: str) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a private copy of `db` (and its journal files)."""
    with tempfile.TemporaryDirectory(prefix="jobterm-cookies-") as tmp:
        copy = Path(tmp) / db.name
        try:
            shutil.copyfile(db, copy)
            for suffix in JOURNALS:
                journal = db.with_name(db.name + suffix)
                if journal.exists():
                    shutil.copyfile(journal, copy.with_name(copy.name + suffix))
        except PermissionError as exc:
            raise locked(browser, db, exc.strerror or "permission denied") from None
        except OSError as exc:
            # Windows refuses to read a file another process opened without sharing.
            raise locked(browser, db, exc.strerror or str(exc)) from None
        connection = sqlite3.connect(copy)  # a private copy: nobody else writes it
        try:
            yield connection
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise locked(browser, db, str(exc)) from None
            raise BrowserError(
                f"{browser}'s cookie store {db} is not readable: {exc}",
                "close the browser and try again, or use --cookie",
                code=ExitCode.COOKIE_STORE_LOCKED,
            ) from None
        except sqlite3.DatabaseError as exc:
            raise BrowserError(
                f"{browser}'s cookie store {db} is not an SQLite database ({exc})",
                "check the profile path",
                code=ExitCode.COOKIE_STORE_LOCKED,
            ) from None
        finally:
            connection.close()


def locked(browser: str, db: Path, why: str) -> BrowserError:
    return BrowserError(
        f"{browser}'s cookie store {db} is locked ({why})",
        f"close {browser} and run the command again",
        code=ExitCode.COOKIE_STORE_LOCKED,
    )
