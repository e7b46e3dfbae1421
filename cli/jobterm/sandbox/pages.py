"""The HTML pages the sandbox serves, reduced to what a program reads from GitLab's.

The field names, ids and meta tags match GitLab's sign-in pages (`app/views/devise/…`), so a
client that parses these parses GitLab's. Every value is escaped.
"""

from __future__ import annotations

from html import escape


def layout(
    title: str,
    body: str,
    csrf_token: str | None = None,
    flash: str | None = None,
    broadcast: str | None = None,
) -> str:
    meta = ""
    if csrf_token is not None:
        meta = (
            '<meta name="csrf-param" content="authenticity_token" />\n'
            f'<meta name="csrf-token" content="{escape(csrf_token)}" />\n'
        )
    flash_html = ""
    if flash:
        flash_html = (
            '<div class="flash-container flash-container-page sticky">'
            f'<div class="flash-alert" data-testid="alert-danger"><span>{escape(flash)}</span>'
            "</div></div>\n"
        )
    if broadcast:  # older GitLab's banner: no role, no gl- classes
        flash_html = (
            f'<div class="broadcast-message" dir="auto">{escape(broadcast)}</div>\n' + flash_html
        )
    return (
        '<!DOCTYPE html>\n<html class="" lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} · GitLab</title>\n{meta}</head>\n"
        '<body class="gl-browser-generic" data-page="sandbox">\n'
        f"{flash_html}{body}\n</body>\n</html>\n"
    )


def _token_input(csrf_token: str) -> str:
    return (
        '<input type="hidden" name="authenticity_token" '
        f'value="{escape(csrf_token)}" autocomplete="off" />'
    )


def sign_in(
    csrf_token: str,
    flash: str | None,
    password_form: bool,
    ldap_form: bool,
    broadcast: str | None = None,
    signup: bool = False,
) -> str:
    parts = ['<div class="login-page"><h1>Sign in</h1>']
    if signup:
        parts.append(_register_form(csrf_token))
    if password_form:
        parts.append(_password_form(csrf_token))
    if ldap_form:
        parts.append(_ldap_form(csrf_token))
    if not password_form and not ldap_form:
        parts.append("<p>Sign in with your organization's single sign-on provider.</p>")
    parts.append("</div>")
    return layout("Sign in", "".join(parts), csrf_token, flash, broadcast)


def _password_form(csrf_token: str) -> str:
    return (
        '<form class="new_user gl-show-field-errors" id="new_user" '
        'action="/users/sign_in" accept-charset="UTF-8" method="post">'
        f"{_token_input(csrf_token)}"
        '<label for="user_login">Username or primary email</label>'
        '<input class="form-control" autocomplete="username" required="required" '
        'type="text" name="user[login]" id="user_login" />'
        '<label for="user_password">Password</label>'
        '<input class="form-control" autocomplete="current-password" required="required" '
        'type="password" name="user[password]" id="user_password" />'
        '<input name="user[remember_me]" type="hidden" value="0" autocomplete="off" />'
        '<input type="checkbox" value="1" name="user[remember_me]" id="user_remember_me" />'
        '<label for="user_remember_me">Remember me</label>'
        '<button type="submit" data-testid="sign-in-button">Sign in</button></form>'
    )


def _ldap_form(csrf_token: str) -> str:
    return (
        '<form class="gl-show-field-errors" id="new_ldap_user" '
        'action="/users/auth/ldapmain/callback" accept-charset="UTF-8" method="post">'
        f"{_token_input(csrf_token)}"
        '<label for="ldapmain_username">LDAP Username</label>'
        '<input class="form-control" type="text" name="username" id="ldapmain_username" />'
        '<label for="ldapmain_password">Password</label>'
        '<input class="form-control" type="password" name="password" id="ldapmain_password" />'
        '<input type="checkbox" name="remember_me" id="remember_me" value="1" />'
        '<button type="submit">Sign in</button></form>'
    )


def _register_form(csrf_token: str) -> str:
    # Older GitLab put "Register" in a tab of the sign-in page, first in the markup, with
    # the same user[...] field names as the sign-in form; only its action tells them apart.
    return (
        '<form class="new_user gl-show-field-errors" id="new_new_user" action="/users" '
        f'accept-charset="UTF-8" method="post">{_token_input(csrf_token)}'
        '<input class="form-control" type="text" name="user[name]" id="user_name" />'
        '<input class="form-control" type="text" name="user[username]" id="user_username" />'
        '<input class="form-control" type="email" name="user[email]" id="user_email" />'
        '<input class="form-control" type="password" name="user[password]" '
        'id="user_password_sign_up" />'
        '<button type="submit">Register</button></form>'
    )


def bot_challenge() -> str:
    """A CDN's "checking your browser" interstitial, as markers on such pages read."""
    return (
        "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
        "<h1>Checking your browser before you reach this site</h1>"
        '<form id="challenge-form" action="/cdn-cgi/challenge-platform/h/b/verify" '
        'method="post"><input type="hidden" name="md" value="sandbox" /></form>'
        '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1"></script>'
        "</body></html>\n"
    )


def two_factor(
    csrf_token: str, flash: str | None, remember: bool, broadcast: str | None = None
) -> str:
    body = (
        '<div class="login-page"><h1>Two-factor authentication</h1>'
        '<form class="edit_user gl-show-field-errors js-2fa-form" id="js-login-2fa-device" '
        'action="/users/sign_in" accept-charset="UTF-8" method="post">'
        f"{_token_input(csrf_token)}"
        f'<input value="{1 if remember else 0}" autocomplete="off" type="hidden" '
        'name="user[remember_me]" id="user_remember_me" />'
        '<label for="user_otp_attempt">Enter verification code</label>'
        '<input class="form-control" required="required" autofocus="autofocus" '
        'autocomplete="one-time-code" inputmode="numeric" type="text" '
        'name="user[otp_attempt]" id="user_otp_attempt" />'
        "<p>Enter the code from your two-factor authenticator app. If you've lost your device, "
        "you can enter one of your recovery codes.</p>"
        '<button type="submit">Verify code</button></form></div>'
    )
    return layout("Two-factor authentication", body, csrf_token, flash, broadcast)


def email_verification(
    csrf_token: str, flash: str | None, email: str, broadcast: str | None = None
) -> str:
    body = (
        '<div class="login-page"><h1>Help us protect your account</h1>'
        f"<p>For added security, you need to verify your identity. We've sent a verification "
        f"code to {escape(obfuscate(email))}</p>"
        '<form id="verification-form" action="/users/sign_in" accept-charset="UTF-8" '
        f'method="post">{_token_input(csrf_token)}'
        '<label for="user_verification_token">Verification code</label>'
        '<input class="form-control" required="required" maxlength="6" autocomplete="off" '
        'inputmode="numeric" type="text" name="user[verification_token]" '
        'id="user_verification_token" />'
        '<button type="submit">Verify code</button></form></div>'
    )
    return layout("Help us protect your account", body, csrf_token, flash, broadcast)


def obfuscate(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:2]}{'*' * max(len(local) - 2, 3)}@{domain}"


def dashboard(csrf_token: str, username: str, projects: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<li><a href="{escape(url)}">{escape(path)}</a></li>' for path, url in projects
    )
    body = (
        f'<header><span class="current-user" data-username="{escape(username)}">'
        f"{escape(username)}</span></header><h1>Projects</h1><ul>{items}</ul>"
    )
    return layout("Projects · Dashboard", body, csrf_token)


def job_page(csrf_token: str, project_path: str, job_id: int, name: str, status: str) -> str:
    body = (
        f'<div class="build-page" data-job-id="{job_id}"><h1>{escape(name)}</h1>'
        f'<p class="ci-status">{escape(status)}</p>'
        f"<p>{escape(project_path)} · job #{job_id}</p></div>"
    )
    return layout(f"{name} (#{job_id}) · Jobs · {project_path}", body, csrf_token)


def error_page(status: int) -> str:
    titles = {
        404: ("The page could not be found", "Page Not Found"),
        422: (
            "The change you requested was rejected.",
            "The change you requested was rejected (422)",
        ),
        403: ("Access denied", "Forbidden"),
        500: ("We're sorry, but something went wrong.", "Something went wrong (500)"),
    }
    text, title = titles.get(status, ("Something went wrong.", f"Error {status}"))
    return layout(title, f'<div class="container"><h1>{status}</h1><h3>{escape(text)}</h3></div>')
