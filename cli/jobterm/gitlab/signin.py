"""Getting a GitLab web session: password (+ two-factor or emailed code), LDAP, or cookies.

How a password sign-in runs (spec, section 2). It is a conversation of pages, one cookie
store for the whole of it:

    GET /users/sign_in ─▶ sign-in page (CSRF token, forms)
    POST the password form (or LDAP's /users/auth/<provider>/callback)
      302 elsewhere ............................ signed in
      302 to /users/sign_in .................... failed (LDAP, expired step): read its flash
      200 + user[otp_attempt] .................. ask for a TOTP/recovery code, POST it, loop
      200 + user[verification_token] ........... ask for the emailed code, POST it, loop
      200 + .js-email-verification mount ....... the same as JSON (verify_email.py)
      200 + the sign-in form ................... wrong password or locked: stop, never retry
      403 ...................................... password sign-in disabled: --from-browser
      422 ...................................... stale CSRF token: start over once (GitLab
                                                 rejected the form before it checked anything)

Each code is asked once; a second two-factor form means the code was wrong. Success is
confirmed with `GET /api/v4/user` on the new session cookie. A page that is not GitLab's (a
bot check in front of it) ends the attempt with a pointer to `--from-browser`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from jobterm.core.cookies import KNOWN_SIGN_IN, REMEMBER, ImportedCookies
from jobterm.core.hosts import Host
from jobterm.core.signin_pages import (
    OTP_FIELD,
    VERIFICATION_FIELD,
    Form,
    PageKind,
    SignInPage,
    parse_page,
)
from jobterm.errors import AuthError, JobtermError, ServerError, UsageError
from jobterm.gitlab.failures import check_status, json_of
from jobterm.gitlab.http import WebClient
from jobterm.gitlab.verify_email import verify_with_json

SIGN_IN = "/users/sign_in"
MAX_STEPS = 4  # sign-in, then at most a couple of second steps: never loop on a server bug

#: asks the user for a code: (what to ask for, the page's flash message) -> the code
AskCode = Callable[[str, str], str]
Json = dict[str, Any]


def password_sign_in(
    web: WebClient,
    username: str,
    password: str,
    ask_code: AskCode,
    *,
    ldap: bool = False,
    ldap_provider: str | None = None,
) -> Json:
    """Sign in; the session's cookies end up in `web.cookies`. Returns the user's JSON."""
    # A fresh sign-in: drop any old session, keep known_sign_in (it saves a warning email).
    for name in [n for n in web.cookies.cookies if n != KNOWN_SIGN_IN]:
        del web.cookies.cookies[name]
    for attempt in (1, 2):
        page_url, page = _sign_in_page(web)
        form, fields = _credentials(
            web.host, page, username, password, ldap or bool(ldap_provider), ldap_provider
        )
        response = web.send(
            "POST", urljoin(page_url, form.action or SIGN_IN), what="signing in", form=fields
        )
        if response.status_code == 422 and attempt == 1:
            continue
        _follow(web, response, ask_code)
        return confirm_session(web)
    raise AssertionError("unreachable")  # pragma: no cover


def _browser_hint(host: Host) -> str:
    return f"sign in with your browser, then run `jobterm login {host.name} --from-browser`"


def _sign_in_page(web: WebClient) -> tuple[str, SignInPage]:
    host = web.host
    response = web.send("GET", SIGN_IN, what="the sign-in page")
    if response.is_redirect:
        target = urlsplit(response.headers.get("location", "")).netloc or host.netloc
        raise AuthError(
            f"{host.name} sends its sign-in page elsewhere ({target}): single sign-on",
            _browser_hint(host),
        )
    json_like = "json" in response.headers.get("content-type", "")
    page = parse_page("" if json_like else response.text)
    if page.challenge or response.headers.get("cf-mitigated", "").lower() == "challenge":
        raise AuthError(
            f"{host.name} shows a bot check instead of its sign-in page; no program can pass it",
            _browser_hint(host),
        )
    check_status(response, host, "the sign-in page")
    if page.kind is not PageKind.SIGN_IN and page.csrf_token is None:
        raise AuthError(
            f"{host.name} answered /users/sign_in with a page that is not GitLab's",
            _browser_hint(host),
        )
    if page.kind is not PageKind.SIGN_IN:
        raise AuthError(
            f"password sign-in is disabled on {host.name} (its sign-in page has no password form)",
            _browser_hint(host),
        )
    return str(response.url), page


def _credentials(
    host: Host, page: SignInPage, username: str, password: str, ldap: bool, provider: str | None
) -> tuple[Form, dict[str, str]]:
    if ldap:
        form = _ldap_form(host, page, provider)
        fields = {**form.hidden, "username": username, "password": password, "remember_me": "1"}
    else:
        found = page.sign_in_form()
        if found is None:
            raise AuthError(
                f"password sign-in is disabled on {host.name}; it offers LDAP sign-in",
                f"run `jobterm login {host.name} --ldap`, or sign in with your browser and use "
                "--from-browser",
            )
        form = found
        fields = {
            **form.hidden,
            "user[login]": username,
            "user[password]": password,
            "user[remember_me]": "1",
        }
    token = page.token_for(form)
    if not token:
        raise ServerError(
            f"{host.name}'s sign-in page has no CSRF token",
            "check the address; is this a GitLab instance?",
        )
    fields["authenticity_token"] = token
    return form, fields


def _ldap_form(host: Host, page: SignInPage, provider: str | None) -> Form:
    forms = page.ldap_forms()
    names = [f.ldap_provider or "" for f in forms]
    if not forms:
        raise AuthError(
            f"{host.name} shows no LDAP sign-in form",
            f"run `jobterm login {host.name}` without --ldap",
        )
    if provider is None:
        if "ldapmain" in names:
            return forms[names.index("ldapmain")]
        if len(forms) == 1:
            return forms[0]
        raise UsageError(
            f"{host.name} has several LDAP servers: {', '.join(names)}",
            "pick one with --ldap-provider NAME",
        )
    if provider not in names:
        raise UsageError(
            f"{host.name} has no LDAP server {provider!r}", f"its LDAP servers: {', '.join(names)}"
        )
    return forms[names.index(provider)]


def _follow(web: WebClient, response: Any, ask_code: AskCode) -> None:
    """Walk the answers after the credentials were posted, until signed in or refused."""
    asked: set[PageKind] = set()
    for _ in range(MAX_STEPS):
        status = response.status_code
        if response.is_redirect:
            location = response.headers.get("location", "")
            if urlsplit(location).path.rstrip("/").endswith(SIGN_IN):
                back = web.send("GET", urljoin(str(response.url), location), what="signing in")
                raise _refused(web.host, parse_page(back.text), asked)
            return
        if status == 403:
            raise AuthError(
                f"password sign-in is disabled on {web.host.name}", _browser_hint(web.host)
            )
        if status == 422:
            raise ServerError(
                f"{web.host.name} rejected the sign-in form's CSRF token (422)",
                "a proxy may be dropping cookies; try again, or use --from-browser",
            )
        check_status(response, web.host, "signing in")
        page = parse_page(response.text)
        kind = page.kind
        if kind not in (PageKind.TWO_FACTOR, PageKind.EMAIL_VERIFICATION) or kind in asked:
            raise _refused(web.host, page, asked)
        asked.add(kind)
        if kind is PageKind.EMAIL_VERIFICATION and page.form_with(VERIFICATION_FIELD) is None:
            verify_with_json(web, str(response.url), page, ask_code)
            return
        response = _post_code(web, str(response.url), page, kind, ask_code)
    raise ServerError(
        f"{web.host.name} kept asking for more sign-in steps",
        "sign in with your browser and use --from-browser",
    )


def _post_code(
    web: WebClient, page_url: str, page: SignInPage, kind: PageKind, ask_code: AskCode
) -> Any:
    field = OTP_FIELD if kind is PageKind.TWO_FACTOR else VERIFICATION_FIELD
    label = (
        "two-factor code (or a recovery code)"
        if kind is PageKind.TWO_FACTOR
        else "verification code (emailed to you)"
    )
    form = page.form_with(field)
    assert form is not None  # kind says the field is there
    code = "".join(ask_code(label, page.flash).split())
    if not code:
        raise AuthError("no code given", f"run `jobterm login {web.host.name}` again")
    fields = {**form.hidden, field: code, "authenticity_token": page.token_for(form) or ""}
    if kind is PageKind.TWO_FACTOR:
        fields.setdefault("user[remember_me]", "1")
    return web.send(
        "POST", urljoin(page_url, form.action or SIGN_IN), what="signing in", form=fields
    )


def _refused(host: Host, page: SignInPage, asked: set[PageKind]) -> JobtermError:
    flash = _one_line(page.flash)
    retry = f"run `jobterm login {host.name}` again"
    lower = flash.lower()
    if page.says_locked or "too many" in lower or "maximum login attempts" in lower:
        return AuthError(
            f"the account is locked on {host.name}" + (f": {flash}" if flash else ""),
            "wait until it unlocks (or ask an administrator), then sign in again; "
            "jobterm never retries",
        )
    if PageKind.TWO_FACTOR in asked and page.kind is PageKind.TWO_FACTOR:
        return AuthError(f"the two-factor code was not accepted by {host.name}", retry)
    if PageKind.EMAIL_VERIFICATION in asked and page.kind is PageKind.EMAIL_VERIFICATION:
        return AuthError(f"the verification code was not accepted by {host.name}", retry)
    if page.kind is PageKind.SIGN_IN and (not flash or "invalid" in lower):
        return AuthError(
            f"wrong username or password for {host.name}",
            f"check them and {retry}; jobterm does not retry, as GitLab locks accounts after "
            "repeated failures",
        )
    if page.kind is PageKind.OTHER and not flash:
        return ServerError(
            f"{host.name} answered the sign-in with a page jobterm does not know",
            _browser_hint(host),
        )
    return AuthError(f"sign-in to {host.name} failed: {flash}", retry)


def _one_line(text: str, limit: int = 160) -> str:
    from jobterm.core.redact import redact

    text = " ".join(text.split())
    return redact(text if len(text) <= limit else text[: limit - 3] + "...")


def confirm_session(web: WebClient) -> Json:
    """The user of the session in `web.cookies`; AuthError if GitLab does not accept it."""
    if not web.cookies.has_session:
        raise AuthError(f"{web.host.name} did not start a session", _browser_hint(web.host))
    user = session_user(web)
    if user is None:
        raise AuthError(
            f"{web.host.name} did not accept the new session",
            f"run `jobterm login {web.host.name}` again",
        )
    return user


def session_user(web: WebClient) -> Json | None:
    """`GET /api/v4/user` with the cookies alone: the user, or None on 401."""
    response = web.send(
        "GET", "/api/v4/user", what="the session", headers={"Accept": "application/json"}
    )
    if response.status_code == 401:
        return None
    body: Json = json_of(response, web.host, "the session")
    return body


def renew_session(web: WebClient) -> Json | None:
    """Renew an expired session with the remember-me cookie (GitLab makes a new session for
    any request that carries a valid `remember_user_token`). The user, or None."""
    if REMEMBER not in web.cookies.cookies:
        return None
    expired = {name: web.cookies.cookies[name] for name in web.cookies.session_names}
    web.cookies.drop_session()
    response = web.send("GET", "/", what="renewing the session")
    if response.status_code >= 500:
        check_status(response, web.host, "renewing the session")
    if not web.cookies.has_session:
        web.cookies.cookies.update(expired)  # keep it: `auth status` can say "expired"
        return None
    return session_user(web)


def import_cookies(web: WebClient, imported: ImportedCookies) -> Json:
    """Check cookies copied from a browser; they stay in `web.cookies`. Returns the user."""
    web.cookies.cookies.clear()
    web.cookies.cookies.update(imported.cookies)
    user = session_user(web)
    if user is None and imported.has_remember_token:
        user = renew_session(web)
    if user is None:
        raise AuthError(
            f"{web.host.name} did not accept the {imported.session_name} cookie "
            "(expired or signed out)",
            "copy it again from a browser tab where you are signed in to this host",
        )
    return user


def token_user(web: WebClient, token: str) -> Json:
    """The user a personal access token belongs to; AuthError if GitLab refuses it."""
    response = web.send(
        "GET",
        "/api/v4/user",
        what="checking the token",
        with_cookies=False,
        headers={"Accept": "application/json", "PRIVATE-TOKEN": token},
    )
    if response.status_code == 401:
        raise AuthError(
            f"{web.host.name} did not accept the token",
            "check that it is not expired or revoked and has the read_api or api scope",
        )
    body: Json = json_of(response, web.host, "checking the token")
    return body
