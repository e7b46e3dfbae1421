"""GitLab's cookies, without I/O: what users paste, and what servers set.

Two jobs:

* `parse_cookie_input` reads the cookies a user copied from a browser where they are signed
  in, in the forms people copy: the bare value of `_gitlab_session`, `name=value`, several
  `name=value` pairs separated by `;` or newlines, a `Cookie:` header line, or a row of the
  browser's cookie table (tab-separated: name, value, domain, ...). It keeps the session cookie
  (any name starting with `_gitlab_session`: development and Geo instances add a suffix), and
  `remember_user_token` and `known_sign_in` when present; other cookies are dropped.
* `CookieStore` keeps one host's cookies as name -> value, applies every `Set-Cookie` header
  the server sends (deletions included) and renders a `Cookie:` header. jobterm talks to one
  instance per store, so domain and path attributes are not needed to pick cookies.

Error messages never contain cookie values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

SESSION_PREFIX = "_gitlab_session"
REMEMBER = "remember_user_token"
KNOWN_SIGN_IN = "known_sign_in"

# RFC 6265 cookie-name (a token) and cookie-octets (printable ASCII minus space, DQUOTE, ",",
# ";" and backslash).
_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$")
_HEADER_PREFIX = re.compile(r"^\s*(?:set-)?cookie\s*:\s*", re.IGNORECASE)


class CookieInputError(ValueError):
    """The pasted text holds no usable session cookie. The message never shows a value."""


def is_session_name(name: str) -> bool:
    return name.startswith(SESSION_PREFIX)


def is_kept_name(name: str) -> bool:
    """A cookie jobterm keeps from pasted input (and a valid cookie name: never text with a
    space or `=` in it, which could carry a value into a header or a message)."""
    return bool(_NAME.match(name)) and (is_session_name(name) or name in (REMEMBER, KNOWN_SIGN_IN))


# NamedTuples: every start creates these classes (see ARCHITECTURE.md, "Start-up").
class ImportedCookies(NamedTuple):
    session_name: str
    cookies: dict[str, str]  # the session cookie first, then remember/known_sign_in if given

    @property
    def session_value(self) -> str:
        return self.cookies[self.session_name]

    @property
    def has_remember_token(self) -> bool:
        return REMEMBER in self.cookies


def parse_cookie_input(text: str) -> ImportedCookies:
    """Parse what a user pasted (see the module docstring). Raises CookieInputError."""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise CookieInputError("no cookie given")
    pairs: list[tuple[str, str]] = []
    for line in lines:
        pairs.extend(_pairs_of_line(line))
    if not pairs:
        if len(lines) == 1 and _is_bare_value(lines[0]):
            return _pick([(SESSION_PREFIX, _unquote(lines[0]))])
        raise CookieInputError(f"no {SESSION_PREFIX} cookie found in the input")
    return _pick(pairs)


def _pairs_of_line(line: str) -> list[tuple[str, str]]:
    """Known cookies (name, value) found on one line, in order."""
    if "\t" in line:
        return _pairs_of_table_row(line)
    body = _HEADER_PREFIX.sub("", line, count=1)
    pairs = []
    for item in body.split(";"):
        name, sep, value = item.strip().partition("=")
        name = name.strip()
        if sep and is_kept_name(name):
            pairs.append((name, _unquote(value.strip())))
    return pairs


def _pairs_of_table_row(line: str) -> list[tuple[str, str]]:
    """A row copied from a browser's cookie table, or a Netscape cookies.txt line: the value
    is the field after the name."""
    fields = [f.strip() for f in line.split("\t")]
    for index, name in enumerate(fields[:-1]):
        if is_kept_name(name):  # not "_gitlab_session=<value>": names have no "="
            return [(name, _unquote(fields[index + 1]))]
    return []


def _is_bare_value(line: str) -> bool:
    # A bare value has no `;`, and `=` only as trailing base64 padding.
    core = line.rstrip("=")
    return bool(core) and ";" not in line and "=" not in core and not _HEADER_PREFIX.match(line)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _pick(pairs: list[tuple[str, str]]) -> ImportedCookies:
    found: dict[str, str] = {}
    for name, value in pairs:
        if not value:
            raise CookieInputError(f"the cookie {name} is empty")
        if not _VALUE.match(value):
            raise CookieInputError(f"the value of {name} has characters a cookie cannot have")
        if name in found and found[name] != value:
            raise CookieInputError(f"the input has two different {name} cookies")
        found[name] = value
    sessions = [name for name in found if is_session_name(name)]
    if not sessions:
        raise CookieInputError(f"no {SESSION_PREFIX} cookie found in the input")
    if len(sessions) > 1:
        if SESSION_PREFIX not in sessions:
            raise CookieInputError(f"the input has several {SESSION_PREFIX}* cookies")
        sessions = [SESSION_PREFIX]
    session = sessions[0]
    cookies = {session: found[session]}
    for name in (REMEMBER, KNOWN_SIGN_IN):
        if name in found:
            cookies[name] = found[name]
    return ImportedCookies(session, cookies)


def validate_value(name: str, value: str) -> None:
    """Raise CookieInputError unless name=value can go in a Cookie header."""
    if not _NAME.match(name):
        raise CookieInputError("a cookie name has characters a cookie name cannot have")
    if not _VALUE.match(value):
        raise CookieInputError(f"the value of {name} has characters a cookie cannot have")


class SetCookie(NamedTuple):
    name: str
    value: str
    deleted: bool  # Max-Age <= 0 or Expires in the past: the server removes the cookie


def parse_set_cookie(header: str, now: datetime | None = None) -> SetCookie | None:
    """One `Set-Cookie` header value; None when it is not a cookie at all."""
    first, *attributes = header.split(";")
    name, sep, value = first.partition("=")
    name = name.strip()
    if not sep or not name or not _NAME.match(name):
        return None
    value = _unquote(value.strip())
    deleted = False
    for attribute in attributes:
        key, _, arg = attribute.strip().partition("=")
        key = key.strip().lower()
        if key == "max-age":
            arg = arg.strip()
            if arg.lstrip("-").isdigit():
                deleted = int(arg) <= 0
                break  # Max-Age wins over Expires (RFC 6265 5.3)
        elif key == "expires":
            deleted = deleted or _expired(arg, now)
    return SetCookie(name, value, deleted)


def _expired(text: str, now: datetime | None) -> bool:
    try:
        from email.utils import parsedate_to_datetime  # only for a Set-Cookie's Expires

        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when <= (now or datetime.now(timezone.utc))


@dataclass
class CookieStore:
    """One host's cookies: name -> value, in the order they were set."""

    cookies: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, cookies: Mapping[str, str]) -> CookieStore:
        return cls(dict(cookies))

    def apply(self, set_cookie_headers: Iterable[str], now: datetime | None = None) -> bool:
        """Apply `Set-Cookie` headers; True when anything changed."""
        changed = False
        for header in set_cookie_headers:
            cookie = parse_set_cookie(header, now)
            if cookie is None:
                continue
            if cookie.deleted or not cookie.value:
                changed |= self.cookies.pop(cookie.name, None) is not None
            elif self.cookies.get(cookie.name) != cookie.value:
                self.cookies[cookie.name] = cookie.value
                changed = True
        return changed

    def header(self, names: Iterable[str] | None = None) -> str:
        """A `Cookie` header value with every cookie, or only those in `names`."""
        wanted = None if names is None else set(names)
        return "; ".join(
            f"{name}={value}"
            for name, value in self.cookies.items()
            if wanted is None or name in wanted
        )

    @property
    def session_names(self) -> list[str]:
        return [name for name in self.cookies if is_session_name(name)]

    @property
    def has_session(self) -> bool:
        return bool(self.session_names)

    def session_header(self) -> str:
        """Only the `_gitlab_session*` cookie(s): what the terminal WebSocket needs."""
        return self.header(self.session_names)

    def drop_session(self) -> None:
        for name in self.session_names:
            del self.cookies[name]
