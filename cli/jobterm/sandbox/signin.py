"""Web sign-in as GitLab does it (sessions_controller.rb, authenticates_with_two_factor.rb,
verifies_with_email.rb, ldap/omniauth_callbacks_controller.rb).

How a sign-in moves (state kept in the server-side session of the anonymous visitor):

    GET /users/sign_in                -> anonymous session + CSRF token, the form
    POST user[login], user[password]  -> wrong: the form again (200), counted; 10 -> locked
                                      -> right, TOTP user: two-factor form (200), pending "otp"
                                      -> right, email verification: code form, pending
                                         "verification"
                                      -> right: 302, new session (+ remember-me, known_sign_in)
    POST user[otp_attempt]            -> TOTP code or unused recovery code: 302 signed in;
       (pending "otp")                   wrong: the two-factor form again, counted
    POST user[verification_token]     -> the emailed code: 302 signed in; wrong: form again
    POST /users/auth/ldapmain/callback-> like the password step for LDAP users; failures go
                                         back to /users/sign_in (302) with a flash message

Every POST needs the session's CSRF token (`authenticity_token`, or the `X-CSRF-Token`
header as Rails also takes), else 422. With password sign-in disabled, a POST carrying a login
or password answers 403 (LDAP stays open). A field posted twice counts by its last value, as
in Rails: a browser posts the remember-me box as `user[remember_me]=0&user[remember_me]=1`.

With `signin_style = "gitlab18"` the pages are GitLab 18's (`pages18.py`) and the emailed code
travels as JSON (`signin_json.py`); the answers to form posts are the same in both styles.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

import pyotp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from jobterm.sandbox import pages, pages18
from jobterm.sandbox.rails import (
    api_json,
    csrf_ok,
    html,
    html_error,
    now_of,
    redirect,
    set_session_cookie,
    set_sign_in_cookies,
    state_of,
    web_auth,
)
from jobterm.sandbox.state import REMEMBER_COOKIE, SandboxState, Session, User

INVALID = "Invalid login or password."
LOCKED = "Your account is locked."
BLOCKED = (
    "Your account has been blocked. Please contact your GitLab administrator if you think "
    "this is an error."
)
BAD_OTP = "Invalid two-factor code."
BAD_VERIFICATION = "The code is incorrect. Enter it again, or send a new code."
SUCCESS_PATH = "/users/successful_verification"


def gitlab18(request: web.Request) -> bool:
    return state_of(request).settings.signin_style == "gitlab18"


def _broadcast(request: web.Request) -> str | None:
    return state_of(request).settings.broadcast_message or None


def _sign_in_form(request: web.Request, session: Session, flash: str | None) -> web.Response:
    state = state_of(request)
    ldap = any(u.ldap for u in state.users.values())
    settings = state.settings
    args = (session.csrf_token, flash, settings.password_authentication_enabled, ldap)
    if gitlab18(request):
        page = pages18.sign_in(*args, _broadcast(request))
    else:
        page = pages.sign_in(*args, _broadcast(request), settings.signup_enabled)
    response = html(page)
    set_session_cookie(state, response, session.id)
    return response


async def sign_in_page(request: web.Request) -> web.Response:
    state = state_of(request)
    auth = web_auth(request)
    if auth.user is not None:
        return redirect(request, "/")
    session = auth.session or state.new_session(now_of(request))
    flash, session.flash = session.flash, None
    return _sign_in_form(request, session, flash)


async def sign_in(request: web.Request) -> web.Response:
    found = await posted(request)
    if found is None:
        return html_error(422)
    state, form, session = found
    if not state.settings.password_authentication_enabled and (
        "user[login]" in form or "user[password]" in form
    ):
        return html_error(403)
    if "user[otp_attempt]" in form and session.pending_step == "otp":
        return _two_factor_step(request, session, _field(form, "user[otp_attempt]"), form)
    if "user[verification_token]" in form and session.pending_step == "verification":
        code = _field(form, "user[verification_token]")
        if is_json(request):
            return _verification_json(request, session, code)
        return _verification_step(request, session, code)
    return _password_step(request, session, form)


Form = Mapping[str, object]


def is_json(request: web.Request) -> bool:
    return "json" in request.content_type


async def read_form(request: web.Request) -> Form:
    """The posted form, or a JSON body's fields under their form names ({"user": {"a": 1}}
    is `user[a]`, as Rails reads both); an undecodable body counts as empty (Rails answers
    such a request without a valid CSRF token, so 422)."""
    try:
        if is_json(request):
            return _flatten(await request.json())
        return await request.post()
    except (UnicodeDecodeError, ValueError, HttpProcessingError):  # the last: bad multipart
        return {}


def _flatten(body: object) -> dict[str, object]:
    if not isinstance(body, dict):
        return {}
    fields: dict[str, object] = {}
    for key, value in body.items():
        if isinstance(value, dict):
            fields.update({f"{key}[{inner}]": v for inner, v in value.items()})
        else:
            fields[str(key)] = value
    return fields


async def posted(request: web.Request) -> tuple[SandboxState, Form, Session] | None:
    """The state, the posted form and the session it was posted in; None when there is no
    session or the CSRF token does not match it (Rails then answers 422)."""
    state = state_of(request)
    form = await read_form(request)
    session = state.session(request.cookies.get(state.settings.session_cookie), now_of(request))
    if session is None or not csrf_ok(session, csrf_token(request, form)):
        return None
    return state, form, session


def csrf_token(request: web.Request, form: Form) -> str:
    return _field(form, "authenticity_token") or request.headers.get("X-CSRF-Token", "")


def _field(form: Form, name: str) -> str:
    """A field's value; posted more than once, the last one (Rails' rule for names without
    `[]`: the hidden 0 a browser sends before a checked box's 1 must not win)."""
    getall = getattr(form, "getall", None)
    values = list(getall(name, [])) if getall is not None else [form.get(name)]
    value = values[-1] if values else None
    return value.strip() if isinstance(value, str) else ""


def _remember(form: Form, key: str = "user[remember_me]") -> bool:
    return _field(form, key) in ("1", "true", "on")


def _password_step(request: web.Request, session: Session, form: Form) -> web.Response:
    state = state_of(request)
    _clear_pending(session)
    user = state.user_by_login(_field(form, "user[login]"))
    password = form.get("user[password]")
    if user is None or user.ldap:
        return _sign_in_form(request, session, INVALID)
    refusal = _refusal(request, user)
    if refusal is not None:
        return _sign_in_form(request, session, refusal)
    if not isinstance(password, str) or not secrets.compare_digest(
        password.encode(), user.password.encode()
    ):
        state.record_failed_attempt(user, now_of(request))
        return _sign_in_form(request, session, LOCKED if user.locked else INVALID)
    return _second_step(request, session, user, _remember(form))


def _refusal(request: web.Request, user: User) -> str | None:
    if user.state == "blocked":
        return BLOCKED
    if state_of(request).is_locked(user, now_of(request)):
        return LOCKED
    return None


def _second_step(
    request: web.Request, session: Session, user: User, remember: bool
) -> web.Response:
    """The password (or LDAP bind) was right: ask for what else the user needs, or finish."""
    if user.totp_secret is not None:
        _set_pending(session, user, "otp", remember)
        return _page(request, session, _two_factor_page(request, session, None, remember))
    if user.email_verification:
        _set_pending(session, user, "verification", remember)
        if gitlab18(request):
            page = pages18.email_verification(
                session.csrf_token, user.username, user.email, _broadcast(request)
            )
        else:
            page = pages.email_verification(
                session.csrf_token, None, user.email, _broadcast(request)
            )
        return _page(request, session, page)
    return _complete(request, session, user, remember)


def _two_factor_page(
    request: web.Request, session: Session, flash: str | None, remember: bool
) -> str:
    render = pages18.two_factor if gitlab18(request) else pages.two_factor
    return render(session.csrf_token, flash, remember, _broadcast(request))


def _two_factor_step(request: web.Request, session: Session, code: str, form: Form) -> web.Response:
    state = state_of(request)
    user = state.user(session.pending_user or "")
    if user is None or _refusal(request, user) is not None:
        _clear_pending(session)
        return _sign_in_form(request, session, _refusal(request, user) if user else INVALID)
    remember = session.pending_remember or _remember(form)
    if valid_otp(user, code, time.time()) or _use_recovery_code(user, code):
        return _complete(request, session, user, remember)
    state.record_failed_attempt(user, now_of(request))
    if user.locked:
        _clear_pending(session)
        return _sign_in_form(request, session, LOCKED)
    return _page(request, session, _two_factor_page(request, session, BAD_OTP, remember))


def valid_otp(user: User, code: str, now: float) -> bool:
    """A TOTP code of now or the 30-second step either side (devise-two-factor's drift).
    Wall-clock time on purpose: authenticator apps use it, whatever the sandbox clock says."""
    if user.totp_secret is None or not code.isdigit() or len(code) != 6:
        return False
    return bool(pyotp.TOTP(user.totp_secret).verify(code, for_time=int(now), valid_window=1))


def _use_recovery_code(user: User, code: str) -> bool:
    """A recovery code works once: it is removed when used."""
    for candidate in user.recovery_codes:
        if code and secrets.compare_digest(candidate.encode(), code.encode()):
            user.recovery_codes.remove(candidate)
            return True
    return False


def _verification_step(request: web.Request, session: Session, code: str) -> web.Response:
    state = state_of(request)
    user = state.user(session.pending_user or "")
    if user is None or _refusal(request, user) is not None:
        _clear_pending(session)
        return _sign_in_form(request, session, _refusal(request, user) if user else INVALID)
    if code and secrets.compare_digest(code.encode(), user.verification_code.encode()):
        user.verification_code = f"{secrets.randbelow(10**6):06d}"  # codes are single-use
        return _complete(request, session, user, session.pending_remember)
    page = pages.email_verification(
        session.csrf_token, BAD_VERIFICATION, user.email, _broadcast(request)
    )
    return _page(request, session, page)


def _verification_json(request: web.Request, session: Session, code: str) -> web.Response:
    """GitLab 16+'s answer to the Vue page's JSON post (VerifiesWithEmail#verify_token)."""
    state = state_of(request)
    user = state.user(session.pending_user or "")
    if user is None or _refusal(request, user) is not None:
        _clear_pending(session)
        message = (_refusal(request, user) if user else None) or INVALID
        return api_json({"status": "failure", "message": message})
    if code and secrets.compare_digest(code.encode(), user.verification_code.encode()):
        user.verification_code = f"{secrets.randbelow(10**6):06d}"
        new_session, remember_token = state.sign_in(
            session, user, session.pending_remember, now_of(request)
        )
        response = api_json({"status": "success", "redirect_path": SUCCESS_PATH})
        set_sign_in_cookies(state, response, new_session, remember_token)
        return response
    return api_json({"status": "failure", "reason": "invalid", "message": BAD_VERIFICATION})


def _set_pending(session: Session, user: User, step: str, remember: bool) -> None:
    session.pending_user, session.pending_step, session.pending_remember = (
        user.username,
        step,
        remember,
    )


def _clear_pending(session: Session) -> None:
    session.pending_user = session.pending_step = None
    session.pending_remember = False


def _page(request: web.Request, session: Session, text: str) -> web.Response:
    response = html(text)
    set_session_cookie(state_of(request), response, session.id)
    return response


def _complete(request: web.Request, session: Session, user: User, remember: bool) -> web.Response:
    """Signed in: a new session id and CSRF token, remember-me and known_sign_in cookies."""
    state = state_of(request)
    new_session, remember_token = state.sign_in(session, user, remember, now_of(request))
    response = redirect(request, "/")
    set_sign_in_cookies(state, response, new_session, remember_token)
    return response


async def ldap_callback(request: web.Request) -> web.Response:
    found = await posted(request)
    if found is None:
        return html_error(422)
    state, form, session = found
    _clear_pending(session)
    username = _field(form, "username")
    user = state.user(username)
    password = form.get("password")
    if user is None or not user.ldap:
        return _ldap_failure(request, session, username)
    refusal = _refusal(request, user)
    if refusal is not None:
        session.flash = refusal
        return redirect(request, "/users/sign_in")
    if not isinstance(password, str) or not secrets.compare_digest(
        password.encode(), user.password.encode()
    ):
        state.record_failed_attempt(user, now_of(request))
        if user.locked:
            session.flash = LOCKED
            return redirect(request, "/users/sign_in")
        return _ldap_failure(request, session, username)
    return _second_step(request, session, user, _remember(form, "remember_me"))


def _ldap_failure(request: web.Request, session: Session, username: str) -> web.Response:
    session.flash = (
        f'Could not authenticate you from Ldapmain because "Invalid credentials for {username}".'
    )
    return redirect(request, "/users/sign_in")


async def sign_out(request: web.Request) -> web.Response:
    """Ends this session and revokes the user's remember-me tokens (every device)."""
    found = await posted(request)
    if found is None:
        return html_error(422)
    state, _, session = found
    state.sign_out(session)
    response = redirect(request, "/users/sign_in")
    set_session_cookie(state, response, state.new_session(now_of(request)).id)
    response.del_cookie(REMEMBER_COOKIE, path="/")
    return response


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/users/sign_in", sign_in_page)
    router.add_post("/users/sign_in", sign_in)
    router.add_post("/users/auth/ldapmain/callback", ldap_callback)
    router.add_post("/users/sign_out", sign_out)
    router.add_delete("/users/sign_out", sign_out)
    from jobterm.sandbox import signin_json  # it builds on this module

    signin_json.add_routes(app)
