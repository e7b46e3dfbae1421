"""GitLab hosts as users write them, normalised to one value (pure: no I/O).

`jobterm login` and `--host` accept `gitlab.example.com`, `gitlab.example.com:8443`,
`https://gitlab.example.com/`, `http://127.0.0.1:3000` or an instance under a relative URL
root, `https://example.com/gitlab`. They all become a `Host`: its `name` (hostname, port when
not the scheme's default, relative root) keys the config file and the keyring entry, and its
`base_url` is what every request is built on. A bare name means https.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from jobterm.errors import UsageError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
# A DNS name (labels of letters, digits, hyphens, underscores seen in the wild) or an IPv4.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
# A relative URL root: plain path segments, no dot segments, nothing URL-special.
_ROOT_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


# A NamedTuple: every start creates this class (see ARCHITECTURE.md, "Start-up").
class Host(NamedTuple):
    scheme: str  # "https" or "http"
    hostname: str  # lower case; IPv6 without brackets
    port: int | None  # None: the scheme's default
    root: str  # relative URL root: "" or "/gitlab" (no trailing slash)

    @property
    def netloc(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{host}:{self.port}" if self.port is not None else host

    @property
    def name(self) -> str:
        """The key of this instance in config and keyring: `gitlab.example.com[:port][/root]`."""
        return self.netloc + self.root

    @property
    def base_url(self) -> str:
        """`https://gitlab.example.com/gitlab`: no trailing slash; paths append to it."""
        return f"{self.scheme}://{self.netloc}{self.root}"

    @property
    def is_loopback(self) -> bool:
        """Plain http is allowed to this host without --insecure-http."""
        if self.hostname in _LOOPBACK_NAMES or self.hostname.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(self.hostname).is_loopback
        except ValueError:
            return False

    def url(self, path: str) -> str:
        """Absolute URL of `path` ("/api/v4/user") under this instance's root."""
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def with_scheme(self, scheme: str) -> Host:
        port = None if self.port == _DEFAULT_PORTS.get(scheme) else self.port
        return Host(scheme, self.hostname, port, self.root)

    def __str__(self) -> str:
        return self.name


def parse_host(text: str, *, default_scheme: str = "https") -> Host:
    """Normalise a HOST argument. Raises UsageError (naming what is wrong) for anything else."""
    raw = text.strip()
    if not raw:
        raise UsageError("the host is empty", "pass a host such as gitlab.example.com")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise UsageError(f"{_show(raw)} is not a host name", "remove the spaces")
    explicit = "://" in raw
    try:
        parts = urlsplit(raw if explicit else f"{default_scheme}://{raw}")
    except ValueError:  # urllib's own checks, e.g. an unclosed "[" or a bad IPv6 address
        raise UsageError(
            f"{_show(raw)} is not a host name", "pass a host such as gitlab.example.com"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UsageError(
            f"{_show(raw)} is not an http(s) URL", "use https://HOST or just the host name"
        )
    if "@" in parts.netloc:
        # Never keep a user:password@ in config files or messages.
        raise UsageError(
            "the host must not contain a user name or password",
            "pass the host alone; jobterm asks for credentials",
        )
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise UsageError(f"{_show(raw)} has a query or fragment", "pass the instance's address")
    hostname = _hostname(parts.netloc, raw)
    port = _port(parts.netloc, raw)
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    return Host(scheme, hostname, port, _root(parts.path, raw))


def _hostname(netloc: str, raw: str) -> str:
    if netloc.startswith("["):
        inner, sep, _rest = netloc[1:].partition("]")
        try:
            address = ipaddress.IPv6Address(inner) if sep else None
        except ValueError:
            address = None
        if address is None:
            raise UsageError(f"{_show(raw)} has a malformed IPv6 address", "write it as [::1]:8080")
        return address.compressed
    name = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    if _looks_secret(name):
        # A token or cookie value typed where the host goes (`login --token VALUE`): never
        # quote it back, and never send it to a DNS server as a name.
        raise UsageError(
            "the host looks like a token or password, not a host name (not shown)",
            "pass the host first; --token, --cookie and --password-stdin take no value: "
            "jobterm asks for the secret, or reads it from stdin",
        )
    name = name.lower()
    if not name or not _HOSTNAME.match(name):
        raise UsageError(
            f"{_show(raw)} is not a host name", "pass a host such as gitlab.example.com"
        )
    return name.rstrip(".")


def _looks_secret(name: str) -> bool:
    """A GitLab token (`glpat-…`), or one label of 20+ letters and digits mixed without a
    hyphen (a session cookie, a password): a credential, not a host. Long host labels
    have words between hyphens (`gitlab-server-prod-01`)."""
    if re.match(r"^gl[a-z]{1,6}-[A-Za-z0-9_-]{16,}$", name):
        return True
    return (
        len(name) >= 20
        and "." not in name
        and "-" not in name
        and any(c.isdigit() for c in name)
        and any(c.isalpha() for c in name)
    )


def _port(netloc: str, raw: str) -> int | None:
    tail = netloc.rsplit("]", 1)[-1]
    if ":" not in tail:
        return None
    digits = tail.rsplit(":", 1)[1]
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) < 65536:
        raise UsageError(f"{_show(raw)} has an invalid port", "ports are 1 to 65535")
    return int(digits)


def _root(path: str, raw: str) -> str:
    segments = [segment for segment in path.split("/") if segment]
    for segment in segments:
        if segment in (".", "..") or not _ROOT_SEGMENT.match(segment):
            raise UsageError(
                f"{_show(raw)} has an unusual path",
                "pass the instance's address, e.g. https://example.com/gitlab",
            )
    if "-" in segments:
        # `/-/` starts GitLab routes (jobs, settings): that is a page, not a relative root.
        raise UsageError(
            f"{_show(raw)} is a page of GitLab, not its address",
            "pass the instance's address only, e.g. https://gitlab.example.com",
        )
    return "".join(f"/{segment}" for segment in segments)


def host_for_url(url: str, known: Iterable[Host]) -> Host | None:
    """The known host whose base URL `url` lies under; the longest relative root wins."""
    try:
        target = parse_host(_origin_and_path(url))
    except UsageError:
        return None
    best: Host | None = None
    for host in known:
        if (host.hostname, host.port) != (target.hostname, target.port):
            continue
        if host.root and not (target.root + "/").startswith(host.root + "/"):
            continue
        if best is None or len(host.root) > len(best.root):
            best = host
    return best


def _origin_and_path(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    path = parts.path.split("/-/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{path}"


def _show(raw: str) -> str:
    """The user's input, shortened and with control characters made visible, for a message."""
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    return repr(shown)
