"""The HTTP layer every GitLab request goes through: transport safety, cookies, errors, logging.

* TLS is verified. Trust comes from `--ca-cert FILE` (saved per host), else `SSL_CERT_FILE` /
  `REQUESTS_CA_BUNDLE`, else the system store, as curl and git trust; certifi's bundle only
  when that store holds no CA certificate (Python from python.org on macOS, containers without
  ca-certificates). Loading certifi beside a full store doubled the ~18 ms every https start
  spends on trust, for roots the store already has. `ssl_context()` gives the same trust to
  the WebSocket.
* Plain http is refused except to loopback hosts, unless the user insisted (`--insecure-http`).
* Proxies come from the environment (httpx's `trust_env`), except for loopback hosts.
* Cookies are ours, not httpx's: `WebClient` keeps one `CookieStore` per host, sends it as a
  `Cookie` header where wanted, and applies every `Set-Cookie` of every response. (httpx's jar
  follows browser domain rules that mishandle `localhost` and cannot be told which cookies
  to send where.)
* Redirects are never followed: GitLab's 302s carry meaning (signed in, session expired).
* Idempotent requests are tried again after a passing fault (`retrying.py`, `core/retry.py`).
* Errors of the transport and unwanted answers become one-line errors (`failures.py`).
* With --debug, each request and response is logged with secrets masked (header values of
  Cookie, Set-Cookie, PRIVATE-TOKEN, Authorization, X-CSRF-Token; form bodies by field names
  only).
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jobterm.core.cookies import CookieStore
from jobterm.core.hosts import Host
from jobterm.core.redact import MASK, redact
from jobterm.errors import (
    AuthError,
    ConfigError,
    ServerError,
    TimeoutExpired,
    UsageError,
)
from jobterm.gitlab.failures import network_error, short_reason

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("jobterm.http")

USER_AGENT = "jobterm"
SECRET_HEADERS = frozenset({"cookie", "private-token", "authorization", "x-csrf-token"})
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
#: A whole answer's bound: httpx's read timeout starts again with every byte, so an answer
#: that trickles (or never ends) would hold jobterm for ever. JOBTERM_HTTP_DEADLINE sets it.
ANSWER_DEADLINE = 120.0


def check_scheme(host: Host, *, insecure_http: bool) -> None:
    """Refuse plain http to anything but this machine, unless the user insisted."""
    if host.scheme == "http" and not host.is_loopback and not insecure_http:
        raise UsageError(
            f"refusing plain http to {host.name}: cookies and passwords would travel unencrypted",
            f"use https://{host.name}, or pass --insecure-http if you really mean it",
        )


def clean_token(token: str, source: str) -> str:
    """`token` without surrounding blanks; AuthError (never showing it) if no HTTP header
    could carry it (httpx would put the whole value in its error message)."""
    token = token.strip()
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise AuthError(
            f"{source} is not a personal access token: it has spaces, line breaks or "
            "non-ASCII characters",
            "copy the token again, without anything around it",
        )
    return token


def ssl_context(ca_cert: str | None, environ: Mapping[str, str]) -> ssl.SSLContext:
    """The trust jobterm uses for HTTPS and WSS to one host."""
    bundle = ca_cert or environ.get("SSL_CERT_FILE") or environ.get("REQUESTS_CA_BUNDLE")
    capath = None if bundle else environ.get("SSL_CERT_DIR")
    try:
        if bundle or capath:
            return ssl.create_default_context(cafile=bundle, capath=capath)
        context = ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        where = bundle or capath
        source = "--ca-cert" if ca_cert else "SSL_CERT_FILE/REQUESTS_CA_BUNDLE/SSL_CERT_DIR"
        raise ConfigError(
            f"cannot use the CA certificates in {where}: {short_reason(exc)}",
            f"check the file given by {source}",
        ) from exc
    return with_fallback_roots(context)


def with_fallback_roots(context: ssl.SSLContext) -> ssl.SSLContext:
    """`context`, with certifi's roots added if it holds no CA certificate of its own."""
    if context.cert_store_stats()["x509_ca"]:
        return context
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):  # pragma: no cover - certifi comes with httpx
        pass
    return context


def make_client(
    host: Host,
    *,
    ca_cert: str | None = None,
    insecure_http: bool = False,
    environ: Mapping[str, str] | None = None,
) -> httpx.Client:
    """An httpx client for one host: verified TLS, no redirects, no cookie jar, debug log."""
    import http.cookiejar

    import httpx

    check_scheme(host, insecure_http=insecure_http)
    environ = os.environ if environ is None else environ
    verify: ssl.SSLContext | bool = True
    if host.scheme == "https":
        verify = ssl_context(ca_cert, environ)
    return httpx.Client(
        verify=verify,
        trust_env=not host.is_loopback,  # proxies cannot reach this machine's loopback
        follow_redirects=False,
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        headers={"User-Agent": USER_AGENT},
        cookies=http.cookiejar.CookieJar(policy=_NoCookies()),  # type: ignore[arg-type]
        event_hooks={"request": [_log_request], "response": [_log_response]},
    )


class _NoCookies:
    """A cookie policy that accepts and returns nothing: WebClient manages cookies itself."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: object, request: object) -> bool:
        return False

    def return_ok(self, cookie: object, request: object) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: object) -> bool:
        return False

    def path_return_ok(self, path: str, request: object) -> bool:
        return False


class WebClient:
    """One host's HTTP: an httpx client plus the host's cookies.

    `send` maps transport failures to NetworkError and applies Set-Cookie; it does not judge
    the status code (callers know what each answer means for them).
    """

    def __init__(self, host: Host, client: httpx.Client, cookies: CookieStore) -> None:
        self.host = host
        self.client = client
        self.cookies = cookies
        self.cookies_changed = False

    def send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        with_cookies: bool = True,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        form: Mapping[str, str] | None = None,
        safe_post: bool = False,
        json_body: Any = None,
    ) -> httpx.Response:
        """`path` is relative to the host's base URL ("/api/v4/user"), or an absolute URL.

        Idempotent requests (and a POST marked `safe_post`) are tried again after a passing
        fault (429, 502-504, a reset connection): see `core/retry.py`."""
        import httpx

        from jobterm.gitlab.retrying import send_retrying

        url = path if "://" in path else self.host.url(path)
        if not same_origin(url, self.host):
            # A Location or form action elsewhere (or http:// from an instance behind a TLS
            # proxy with a wrong external_url): cookies and passwords must not go there.
            raise ServerError(
                f"{self.host.name} sent jobterm to another address ({_origin(url)}) for {what}",
                "check the instance's address; its external_url may be misconfigured",
            )
        all_headers = dict(headers or {})
        if with_cookies and self.cookies.cookies:
            all_headers["Cookie"] = self.cookies.header()

        deadline = answer_deadline()

        def try_once() -> httpx.Response:
            request = self.client.build_request(
                method, url, headers=all_headers, params=params, data=form, json=json_body
            )
            response = self.client.send(request, stream=True)
            return _read_within(response, time.monotonic() + deadline, self.host, what, deadline)

        try:
            response = send_retrying(try_once, method, url, safe_post=safe_post)
        except (httpx.LocalProtocolError, UnicodeEncodeError):
            # Their messages quote the offending header value: a cookie or token.
            raise AuthError(
                f"a credential for {self.host.name} has characters HTTP cannot carry ({what})",
                f"run `jobterm login {self.host.name}` again",
            ) from None
        except httpx.HTTPError as exc:
            raise network_error(exc, self.host, what) from exc
        if self.cookies.apply(response.headers.get_list("set-cookie")):
            self.cookies_changed = True
        return response

    def close(self) -> None:
        self.client.close()


def answer_deadline() -> float:
    from jobterm.core.duration import seconds_from_env

    return seconds_from_env(os.environ, "JOBTERM_HTTP_DEADLINE", ANSWER_DEADLINE)


def _read_within(
    response: httpx.Response, deadline: float, host: Host, what: str, seconds: float
) -> httpx.Response:
    """The answer with its whole body read before `deadline` (monotonic), or TimeoutExpired.
    Returned as a new, read response: the body decoded, its headers (cookies too) kept."""
    import httpx

    chunks = []
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise TimeoutExpired(
                    f"{host.name} took longer than {seconds:g} s to answer {what}",
                    "try again; a slow link or proxy can be given more with "
                    "JOBTERM_HTTP_DEADLINE (e.g. 5m)",
                )
    finally:
        response.close()
    encoded = ("content-encoding", "content-length", "transfer-encoding")
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in encoded]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
        extensions=response.extensions,
    )


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[": no origin at all
        return "?"
    return redact(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")


def same_origin(url: str, host: Host) -> bool:
    """Whether `url` has the scheme, host name and port of `host`."""
    from jobterm.core.hosts import parse_host

    try:
        target = parse_host(_origin(url))
    except UsageError:
        return False
    return (target.scheme, target.hostname, target.port) == (host.scheme, host.hostname, host.port)


def _log_request(request: httpx.Request) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    log.debug("> %s %s", request.method, request.url)
    for line in safe_header_lines(request.headers.multi_items()):
        log.debug(">   %s", line)
    content_type = request.headers.get("content-type", "")
    if request.content and "form-urlencoded" in content_type:
        log.debug(">   (form fields: %s)", ", ".join(_form_names(request.content)))
    elif request.content:
        log.debug(">   (%d bytes of %s)", len(request.content), content_type or "data")


def _log_response(response: httpx.Response) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    request = response.request
    log.debug("< %s %s %s", response.status_code, request.method, request.url)
    for line in safe_header_lines(response.headers.multi_items()):
        log.debug("<   %s", line)


def safe_header_lines(items: Iterable[tuple[str, str]]) -> list[str]:
    """`Name: value` lines with secret values masked (Set-Cookie keeps name and attributes)."""
    lines = []
    for name, value in items:
        lower = name.lower()
        if lower in SECRET_HEADERS:
            value = MASK
        elif lower == "set-cookie":
            first, _, attributes = value.partition(";")
            value = f"{first.split('=', 1)[0]}={MASK}" + (f";{attributes}" if attributes else "")
        lines.append(f"{name}: {redact(value)}")
    return lines


def _form_names(content: bytes) -> list[str]:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(content.decode("ascii", "replace"), keep_blank_values=True)
    return [name for name, _ in pairs]
