"""`--from-browser[=BROWSER[:PROFILE]]`: which profiles to read, in which order, and why not.

BROWSER is chrome, chromium, brave, edge or firefox; PROFILE a profile name ("Default",
"Profile 1", Firefox's "default-release") or a directory: a user data dir (`--user-data-dir`)
or one profile in it for the Chromium family, a profile directory for Firefox. With no
BROWSER every installed one is tried in `ORDER`, and the message says what was tried.

Each profile's cookies for the instance are read (`chromium.py`, `firefox.py`) and handed to
`verify` (GET /api/v4/user); the first session the instance accepts wins. When none does,
the error says why, with its own exit code (`ExitCode.NO_BROWSER` … `COOKIE_DECRYPT`).

Why a reader of our own and not the browser-cookie3 library: its last release (0.20.1,
2024-12) fails outright on a machine with no D-Bus session (`KeyError:
'DBUS_SESSION_BUS_ADDRESS'`, reported upstream and open) — every server, container and CI
runner — and it misses Firefox's session cookies once Firefox has closed, which is exactly
where `_gitlab_session` lives. What it does for us fits in these few modules on top of two
well-kept libraries (cryptography for AES, lz4 for mozLz4), which we can test against stores
built with the browsers' own schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobterm.browsers import chromium, firefox
from jobterm.browsers.store import Found
from jobterm.core.hosts import Host
from jobterm.errors import BrowserError, ExitCode, UsageError

ORDER = ("chrome", "chromium", "brave", "edge", "firefox")
ALIASES = {"google-chrome": "chrome", "microsoft-edge": "edge", "msedge": "edge",
           "firefox-esr": "firefox"}  # fmt: skip
DISK_FACTS = (
    "Chromium-family browsers write a new session cookie to disk about 30 s after sign-in "
    "or when they close, and drop it at the next start unless 'Continue where you left off' "
    "is set; sign in there, wait half a minute, then run this again"
)

#: GET /api/v4/user with these cookies: the user, or None when the instance refuses them
Verify = Callable[[Found], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Spec:
    browser: str | None  # None: try every installed one
    profile: str | None

    def describe(self) -> str:
        return (self.browser or "any browser") + (f":{self.profile}" if self.profile else "")


def parse_spec(text: str) -> Spec:
    text = text.strip()
    if text.lower() in ("", "auto"):
        return Spec(None, None)
    name, _, profile = text.partition(":")
    name = ALIASES.get(name.strip().lower(), name.strip().lower())
    if name not in ORDER:
        raise UsageError(
            f"--from-browser: unknown browser {name!r}", f"use one of {', '.join(ORDER)}"
        )
    return Spec(name, profile.strip() or None)


def session_from_browser(
    spec: Spec, host: Host, environ: Mapping[str, str], verify: Verify
) -> tuple[Found, dict[str, Any]]:
    """The first profile whose session `host` accepts, and the user it belongs to."""
    candidates = [(b, p) for b in _browsers(spec) for p in _profiles(b, spec, environ)]
    if not candidates:
        looked = spec.browser or ", ".join(ORDER)
        raise BrowserError(
            f"no profile of a supported browser found (looked for {looked})",
            "name one with --from-browser BROWSER:PROFILE_DIR, or use --cookie",
            code=ExitCode.NO_BROWSER,
        )
    rejected: list[Found] = []
    problems: list[BrowserError] = []
    notes: list[str] = []
    for browser, profile in candidates:
        try:
            found = _read(browser, profile, host)
        except BrowserError as exc:
            problems.append(exc)
            continue
        if not found.has_session:
            notes.extend(found.notes)
            continue
        user = verify(found)
        if user is not None:
            return found, user
        rejected.append(found)
    if rejected:
        where = _where(rejected[0].browser, rejected[0].profile)
        raise BrowserError(
            f"{host.name} did not accept the session found in {where} (expired or signed out)",
            f"sign in to {host.name} in that browser again, then rerun this command",
            code=ExitCode.BROWSER_SESSION_REJECTED,
        )
    if problems:
        raise problems[0]
    raise _no_session(host, candidates, notes)


def _no_session(host: Host, candidates: list[tuple[str, Path]], notes: list[str]) -> BrowserError:
    tried = ", ".join(_where(b, p) for b, p in candidates[:4])
    more = f" and {len(candidates) - 4} more" if len(candidates) > 4 else ""
    noted = f"; {notes[0]}" if notes else ""  # e.g. a damaged session store
    return BrowserError(
        f"no {host.name} session in {tried}{more}{noted}",
        DISK_FACTS,
        code=ExitCode.NO_BROWSER_SESSION,
    )


def _where(browser: str, profile: Path | str) -> str:
    return f"{browser} ({profile})"


def _browsers(spec: Spec) -> tuple[str, ...]:
    return (spec.browser,) if spec.browser else ORDER


def _read(browser: str, profile: Path, host: Host) -> Found:
    if browser == "firefox":
        return firefox.read(profile, host)
    return chromium.read(chromium.KINDS[browser], profile, host)


def _profiles(browser: str, spec: Spec, environ: Mapping[str, str]) -> list[Path]:
    if spec.profile is not None:
        return [_named_profile(browser, spec.profile, environ)]
    if browser == "firefox":
        found = [d for root in firefox.firefox_dirs(environ) for _, d in firefox.profiles(root)]
        return [d for d in found if firefox.is_profile(d)]
    return chromium.profiles(chromium.user_data_dir(chromium.KINDS[browser], environ))


def _named_profile(browser: str, profile: str, environ: Mapping[str, str]) -> Path:
    path = Path(profile).expanduser()
    pathlike = "/" in profile or "\\" in profile or profile.startswith((".", "~"))
    if browser == "firefox":
        if path.is_dir() and firefox.is_profile(path):
            return path
        for root in firefox.firefox_dirs(environ):
            for name, directory in firefox.profiles(root):
                if not pathlike and profile in (name, directory.name):
                    return directory
        raise _no_profile(browser, profile, "a Firefox profile directory or profile name")
    if path.is_dir():
        if chromium.cookie_db(path) is not None:
            return path
        inside = chromium.profiles(path)  # a --user-data-dir: its first profile
        if inside:
            return inside[0]
        raise _no_profile(browser, profile, "a user data dir, or a profile in one, with cookies")
    if not pathlike:
        named = chromium.user_data_dir(chromium.KINDS[browser], environ) / profile
        if chromium.cookie_db(named) is not None:
            return named
    raise _no_profile(browser, profile, "a profile name such as Default, or a directory")


def _no_profile(browser: str, profile: str, wanted: str) -> BrowserError:
    return BrowserError(
        f"{browser} has no profile {profile!r}",
        f"give {wanted}: --from-browser {browser}:PROFILE",
        code=ExitCode.NO_BROWSER_PROFILE,
    )
