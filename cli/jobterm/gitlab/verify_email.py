"""GitLab's email verification as its Vue page does it (GitLab 16 and later).

The page is a mount point, not a form (`core.signin_pages.VerificationMount`). The browser
posts the emailed code as JSON and reads a JSON answer
(`app/assets/javascripts/sessions/new/components/email_verification.vue`,
`app/controllers/concerns/verifies_with_email.rb`):

    POST verify_path  {"user": {"verification_token": "123456"}}   X-CSRF-Token: <meta token>
      {"status": "success", "redirect_path": …} ... signed in (the answer sets the session)
      {"status": "failure", "message": …} ......... wrong or expired code
    POST resend_path  {"user": {"email": ""}}  .... a new code to the primary address
      {"status": "success"} | {"status": "failure", "message": …}

The user may answer `resend` instead of a code; any other answer is posted once (never
retried: a wrong code counts against the account).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from jobterm.core.signin_pages import SignInPage, VerificationMount
from jobterm.errors import AuthError, ServerError
from jobterm.gitlab.failures import check_status, json_of
from jobterm.gitlab.http import WebClient

RESEND = "resend"
MAX_RESENDS = 2

AskCode = Callable[[str, str], str]


def verify_with_json(web: WebClient, page_url: str, page: SignInPage, ask_code: AskCode) -> None:
    """Ask for the emailed code and post it; returns once GitLab signed the user in."""
    mount = page.verification
    assert mount is not None  # the caller checked the page kind
    label = "verification code (emailed to you"
    label += f"; answer {RESEND} for a new one)" if mount.resend_path else ")"
    note = page.flash
    for _ in range(MAX_RESENDS + 1):
        code = "".join(ask_code(label, note).split())
        if not code:
            raise AuthError("no code given", f"run `jobterm login {web.host.name}` again")
        if code.lower() == RESEND and mount.resend_path:
            _resend(web, page_url, page, mount)
            note = "GitLab sent a new code."
            continue
        answer = _post(
            web,
            urljoin(page_url, mount.verify_path or "/users/sign_in"),
            page,
            {"user": {"verification_token": code}},
        )
        if answer.get("status") == "success":
            return
        raise AuthError(
            f"the verification code was not accepted by {web.host.name}" + _said(answer),
            f"run `jobterm login {web.host.name}` again (answer {RESEND} for a new code)",
        )
    raise AuthError(
        "too many new codes asked for", f"run `jobterm login {web.host.name}` again later"
    )


def _resend(web: WebClient, page_url: str, page: SignInPage, mount: VerificationMount) -> None:
    answer = _post(web, urljoin(page_url, mount.resend_path), page, {"user": {"email": ""}})
    if answer.get("status") != "success":
        raise AuthError(
            f"{web.host.name} sent no new code" + _said(answer),
            "wait a while, then sign in again",
        )


def _post(web: WebClient, url: str, page: SignInPage, body: dict[str, Any]) -> dict[str, Any]:
    response = web.send(
        "POST",
        url,
        what="email verification",
        json_body=body,
        headers={"X-CSRF-Token": page.csrf_token or "", "Accept": "application/json"},
    )
    if response.status_code == 422:
        raise ServerError(
            f"{web.host.name} rejected the verification page's CSRF token (422)",
            "a proxy may be dropping cookies; try again, or use --from-browser",
        )
    check_status(response, web.host, "email verification")
    answer = json_of(response, web.host, "email verification")
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "failure"):
        raise ServerError(
            f"{web.host.name} answered the email verification with something unexpected",
            "sign in with your browser and use --from-browser",
        )
    return answer


def _said(answer: dict[str, Any]) -> str:
    from jobterm.core.redact import redact
    from jobterm.core.safetext import visible

    message = answer.get("message")
    if not isinstance(message, str) or not message.strip():
        return ""
    # Server text reaches the terminal: one line, controls shown not obeyed, not too long.
    return f": {redact(visible(message, one_line=True)[:160])}"
