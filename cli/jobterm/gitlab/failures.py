"""What a failed exchange with GitLab means, in one line the user can act on.

* `network_error`: a request that got no answer, or a broken one (httpx's errors), becomes a
  `NetworkError`; `transport_error` is its part that the terminal's WebSocket shares (no
  answer in time, TLS), so both clients say the same of an untrusted certificate.
* `check_status` and `json_of` turn an unwanted answer (a redirect to sign-in, 401, 403, 404,
  429, 5xx, HTML where JSON was due) into the `jobterm.errors` exception that says what
  happened.

Reasons quoted from exceptions and servers are shortened, on one line, and redacted.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import TYPE_CHECKING, Any

from jobterm.core.redact import redact
from jobterm.errors import (
    AuthError,
    ForbiddenError,
    JobtermError,
    NetworkError,
    NotFoundError,
    ServerError,
)

if TYPE_CHECKING:
    import httpx

    from jobterm.core.hosts import Host


def network_error(exc: Exception, host: Host, what: str) -> JobtermError:
    """The one-line error for a failed exchange with `host` (no answer, or a broken one)."""
    import httpx

    timed_out = isinstance(exc, httpx.TimeoutException)
    failed = transport_error(exc, host.name, what, timed_out=timed_out)
    if failed is not None:
        return failed
    reason = short_reason(exc)
    if isinstance(exc, httpx.ProxyError):
        return NetworkError(
            f"the proxy refused the connection to {host.name}: {reason}",
            "check HTTPS_PROXY / HTTP_PROXY / NO_PROXY",
        )
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(
            f"cannot connect to {host.base_url}: {reason}",
            "check the host name and port, your network, and any proxy settings",
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return NetworkError(
            f"the connection to {host.name} broke ({what}): {reason}",
            "try again; if it persists, check any proxy in between",
        )
    return NetworkError(f"request to {host.name} failed ({what}): {reason}", None)


def transport_error(
    exc: BaseException, name: str, what: str, *, timed_out: bool
) -> NetworkError | None:
    """The error for a failure below HTTP on the way to `name` whichever client met it (REST
    over httpx, the terminal over websockets): no answer in time, or TLS (an untrusted
    certificate says how to trust it); None for any other failure."""
    if timed_out:
        return NetworkError(
            f"{name} did not answer in time ({what})",
            "check your network or proxy, and that the host is up",
        )
    cert = _find_cause(exc, ssl.SSLCertVerificationError)
    if cert is not None:
        detail = getattr(cert, "verify_message", "") or short_reason(exc)
        return NetworkError(
            f"the TLS certificate of {name} is not trusted: {detail}",
            f"if your instance uses its own CA, run `jobterm login {name} --ca-cert FILE` "
            "or set SSL_CERT_FILE",
        )
    if _find_cause(exc, ssl.SSLError) is not None:
        return NetworkError(
            f"TLS with {name} failed: {short_reason(exc)}", "check the host and port"
        )
    return None


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def short_reason(exc: BaseException) -> str:
    """An exception's text for a message: one line, at most 160 characters, redacted."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text if len(text) <= 160 else text[:157] + "...")


def check_status(response: httpx.Response, host: Host, what: str) -> None:
    """Raise the jobterm error for anything but a 2xx answer to a request about `what`."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = _server_message(response)
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        if "/users/sign_in" in location:
            raise AuthError(
                f"not signed in to {host.name} ({what})", f"run `jobterm login {host.name}`"
            )
        raise ServerError(
            f"{host.name} redirected the request for {what} to {redact(location)[:120]}",
            "check the host's address (http/https, relative URL root)",
        )
    if status == 401:
        raise AuthError(
            f"{host.name} did not accept your credentials ({what})",
            f"run `jobterm login {host.name}`",
        )
    if status == 403:
        raise ForbiddenError(f"{host.name} refused access to {what} (403 Forbidden{detail})")
    if status == 404:
        raise NotFoundError(
            f"{what} not found on {host.name}",
            "check the id or path, and that your account can see it",
        )
    if status == 429:
        from jobterm.core.retry import retry_after_seconds

        wait = retry_after_seconds(response.headers.get("retry-after"), time.time())
        hint = f"wait {wait:.0f} seconds and try again" if wait else "wait and try again"
        raise ServerError(f"{host.name} is limiting requests (429 Too Many Requests)", hint)
    if status >= 500:
        raise ServerError(
            f"{host.name} failed with {status} {response.reason_phrase} ({what})",
            "the GitLab server has a problem; try again later or tell its administrators",
        )
    raise JobtermError(f"{host.name} answered {status} {response.reason_phrase} ({what}{detail})")


def _server_message(response: httpx.Response) -> str:
    """`: <message>` from GitLab's JSON error body, one line, short, redacted; else ""."""
    if "json" not in response.headers.get("content-type", ""):
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") or body.get("error") if isinstance(body, dict) else None
    if not message:
        return ""
    text = " ".join(str(message).split())
    return ": " + redact(text[:120])


def json_of(response: httpx.Response, host: Host, what: str) -> Any:
    """The JSON body of a 2xx answer; ServerError if it is HTML or not JSON at all."""
    check_status(response, host, what)
    content_type = response.headers.get("content-type", "").lower()
    body = response.content.lstrip()
    if "html" in content_type or body[:1] == b"<":
        raise ServerError(
            f"{host.name} answered {what} with an HTML page where GitLab's API sends JSON",
            "check the host's address (relative URL root?) and whether a proxy or sign-in "
            "portal is in the way",
        )
    try:
        return json.loads(body)
    except ValueError:
        raise ServerError(
            f"{host.name} sent something that is not JSON for {what}",
            "check the host's address and any proxy in between",
        ) from None
