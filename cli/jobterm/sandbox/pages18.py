"""Sign-in pages as GitLab 18 serves them (world setting `signin_style = "gitlab18"`).

What differs from the classic pages (`pages.py`), taken from GitLab's own templates
(`app/views/devise/sessions/_new_base.html.haml`, `_new_ldap.html.haml`, `two_factor.html.haml`,
`email_verification.haml`, `app/assets/javascripts/sessions/new/`) and written here in this
project's own markup:

* Password inputs are placeholders that Vue replaces: they carry `data-name` and `data-id`.
  The main form's keeps its `name` as well; the LDAP tab's has **no `name`**.
* Email verification is a mount point with no form: `.js-email-verification` with
  `data-verify-path` (the session endpoint, which takes JSON) and `data-resend-path`.
* Flash messages are `gl-alert`s inside `.flash-container`; an admin broadcast is a
  `gl-broadcast-message` banner at the top of every page, `role="alert"` as well.
* The standard and LDAP forms sit in tabs; the remember-me box is a hidden 0 then a checkbox 1
  under the same name, as Rails' `check_box` writes it.
"""

from __future__ import annotations

from html import escape

from jobterm.sandbox.pages import obfuscate

VERIFY_PATH = "/users/sign_in"
RESEND_PATH = "/users/resend_verification_code"


def layout(title: str, body: str, csrf_token: str, flash: str | None, broadcast: str | None) -> str:
    banner = ""
    if broadcast:
        banner = (
            '<div class="gl-broadcast-message banner js-broadcast-notification-1 light-indigo" '
            'role="alert" data-broadcast-banner=""><div class="gl-broadcast-message-content">'
            '<div class="gl-broadcast-message-text"><h2 class="gl-sr-only">Admin message</h2>'
            f"<p>{escape(broadcast)}</p></div></div>"
            '<button class="js-dismiss-current-broadcast-notification" data-id="1" '
            'aria-label="Close message" type="button"></button></div>\n'
        )
    flash_html = ""
    if flash:
        flash_html = (
            '<div class="flash-container flash-container-page sticky" '
            'data-testid="flash-container">'
            '<div class="gl-alert flash-alert gl-alert-danger gl-alert-layout-limited" '
            'role="alert">'
            f'<div class="gl-alert-content"><div class="gl-alert-body">{escape(flash)}</div>'
            "</div></div></div>\n"
        )
    return (
        '<!DOCTYPE html>\n<html class="gl-light devise-layout-html" lang="en">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{escape(title)} · GitLab</title>\n'
        '<meta name="csrf-param" content="authenticity_token" />\n'
        f'<meta name="csrf-token" content="{escape(csrf_token)}" />\n</head>\n'
        '<body class="gl-h-full login-page navless" data-page="sessions:new">\n'
        f'{banner}<div class="gl-flex gl-flex-col">{flash_html}'
        f'<main class="gl-container-sm gl-mx-auto">{body}</main></div>\n</body>\n</html>\n'
    )


def _token(csrf_token: str) -> str:
    return (
        '<input type="hidden" name="authenticity_token" '
        f'value="{escape(csrf_token)}" autocomplete="off" />'
    )


def _remember(name: str, field_id: str) -> str:
    return (
        '<div class="gl-form-checkbox custom-control custom-checkbox">'
        f'<input name="{name}" type="hidden" value="0" autocomplete="off" />'
        f'<input class="custom-control-input" autocomplete="off" type="checkbox" value="1" '
        f'name="{name}" id="{field_id}" />'
        f'<label class="custom-control-label" for="{field_id}">Remember me</label></div>'
    )


def _standard_form(csrf_token: str) -> str:
    return (
        '<form class="gl-show-field-errors js-arkose-labs-form" aria-live="assertive" '
        'data-testid="sign-in-form" id="new_user" action="/users/sign_in" '
        f'accept-charset="UTF-8" method="post">{_token(csrf_token)}'
        '<div class="form-group"><label for="user_login">Username or primary email</label>'
        '<input class="form-control gl-form-input js-username-field" autocomplete="username" '
        'autocapitalize="off" autocorrect="off" required="required" type="text" '
        'name="user[login]" id="user_login" data-testid="username-field" /></div>'
        '<div class="form-group"><label for="user_password">Password</label>'
        '<input class="form-control gl-form-input js-password" data-id="user_password" '
        'data-required="true" data-name="user[password]" data-testid="password-field" '
        'type="password" name="user[password]" id="user_password" /></div>'
        f'<div class="gl-mb-3">{_remember("user[remember_me]", "user_remember_me")}</div>'
        '<button class="gl-button btn btn-block btn-md btn-confirm js-sign-in-button" '
        'data-testid="sign-in-button" type="submit"><span class="gl-button-text">Sign in'
        "</span></button></form>"
    )


def _ldap_form(csrf_token: str) -> str:
    # The password placeholder has no name: the Vue component that replaces it in a browser
    # posts it as "password" (its data-name).
    return (
        '<form class="gl-show-field-errors" aria-live="assertive" id="new_ldap_user" '
        'action="/users/auth/ldapmain/callback" accept-charset="UTF-8" method="post">'
        f'{_token(csrf_token)}<div class="form-group">'
        '<label for="ldapmain_username">Username</label>'
        '<input class="form-control gl-form-input" required="required" autocomplete="username" '
        'type="text" name="username" id="ldapmain_username" /></div>'
        '<div class="form-group"><label for="ldapmain_password">Password</label>'
        '<input class="form-control gl-form-input js-password" data-id="ldapmain_password" '
        'data-name="password" data-required="true" type="password" autocomplete="current-password" '
        "/></div>"
        f'<div class="gl-mb-3">{_remember("remember_me", "ldapmain_remember_me")}</div>'
        '<button class="gl-button btn btn-block btn-md btn-confirm" '
        'data-testid="ldap-sign-in-button" '
        'type="submit"><span class="gl-button-text">Sign in</span></button></form>'
    )


def sign_in(
    csrf_token: str, flash: str | None, password_form: bool, ldap_form: bool, broadcast: str | None
) -> str:
    tabs = []
    panes = []
    if ldap_form:
        tabs.append(
            '<li class="nav-item"><a class="nav-link active" href="#ldapmain">LDAP</a></li>'
        )
        panes.append(f'<div class="tab-pane active" id="ldapmain">{_ldap_form(csrf_token)}</div>')
    if password_form:
        state = "" if ldap_form else " active"
        tabs.append(
            f'<li class="nav-item"><a class="nav-link{state}" href="#login-pane">Standard</a></li>'
        )
        panes.append(
            f'<div class="tab-pane{state}" id="login-pane">{_standard_form(csrf_token)}</div>'
        )
    if not panes:
        panes.append("<p>Sign in with your organization's single sign-on provider.</p>")
    body = (
        '<div class="gl-my-5"><h1 class="gl-heading-display">Sign in</h1></div>'
        f'<ul class="nav-links new-session-tabs nav-tabs nav" role="tablist">{"".join(tabs)}</ul>'
        f'<div class="tab-content">{"".join(panes)}</div>'
    )
    return layout("Sign in", body, csrf_token, flash, broadcast)


def two_factor(csrf_token: str, flash: str | None, remember: bool, broadcast: str | None) -> str:
    body = (
        '<div class="gl-my-5"><h1 class="gl-heading-display">Two-factor authentication</h1></div>'
        '<form class="edit_user gl-show-field-errors js-2fa-form" id="js-login-2fa-device" '
        'action="/users/sign_in" accept-charset="UTF-8" method="post">'
        f"{_token(csrf_token)}"
        f'<input value="{1 if remember else 0}" autocomplete="off" type="hidden" '
        'name="user[remember_me]" id="user_remember_me" />'
        '<div class="form-group"><label for="user_otp_attempt">Verification code</label>'
        '<input class="form-control gl-form-input" required="required" autofocus="autofocus" '
        'autocomplete="one-time-code" inputmode="numeric" data-testid="verification-code-field" '
        'type="text" name="user[otp_attempt]" id="user_otp_attempt" />'
        '<p class="form-text gl-text-subtle">The code your authenticator app shows now, or one '
        "of your recovery codes.</p></div>"
        '<button class="gl-button btn btn-block btn-md btn-confirm" '
        'data-testid="verify-code-button" '
        'type="submit"><span class="gl-button-text">Verify code</span></button></form>'
        '<div class="js-2fa-email-verification-fallback"></div>'
    )
    return layout("Two-factor authentication", body, csrf_token, flash, broadcast)


def email_verification(csrf_token: str, username: str, email: str, broadcast: str | None) -> str:
    # No form: the page's script posts JSON to the verify path and shows the answer itself.
    body = (
        '<div class="gl-my-5"><h1 class="gl-heading-display">Help us protect your account</h1>'
        "</div>"
        f'<div class="js-email-verification" data-username="{escape(username)}" '
        f'data-obfuscated-email="{escape(obfuscate(email))}" '
        f'data-verify-path="{VERIFY_PATH}" data-resend-path="{RESEND_PATH}" '
        'data-offer-email-reset="false" data-update-email-path="/users/update_email"></div>'
    )
    return layout("Help us protect your account", body, csrf_token, None, broadcast)


def successful_verification(csrf_token: str, redirect_url: str) -> str:
    body = (
        '<div class="gl-text-center"><h1 class="gl-heading-display">Verification successful</h1>'
        f'<div class="js-successful-verification" data-redirect-url="{escape(redirect_url)}">'
        f'<a href="{escape(redirect_url)}">Continue</a></div></div>'
    )
    return layout("Verification successful", body, csrf_token, None, None)
