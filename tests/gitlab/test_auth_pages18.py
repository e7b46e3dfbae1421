"""core/signin_pages.py on GitLab 18's pages and on the pages that fooled it before: Vue inputs
with only a data-name, the email-verification mount point, broadcast banners next to flashes,
a registration form beside the sign-in form, and bot checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.signin_pages import PageKind, parse_page
from jobterm.sandbox import pages, pages18

LDAP18 = pages18.sign_in("T18", None, True, True, None)


def test_ldap_password_without_name_is_found_by_its_data_name() -> None:
    assert 'data-name="password"' in LDAP18
    assert 'name="password"' not in LDAP18.replace('data-name="password"', "")
    page = parse_page(LDAP18)
    assert page.kind is PageKind.SIGN_IN
    (ldap,) = page.ldap_forms()
    assert ldap.ldap_provider == "ldapmain"
    assert ldap.has("username")
    assert ldap.has("password")
    form = page.sign_in_form()
    assert form is not None
    assert form.action == "/users/sign_in"


def test_older_ldap_page_still_read() -> None:
    page = parse_page(pages.sign_in("T", None, True, True))
    assert [f.ldap_provider for f in page.ldap_forms()] == ["ldapmain"]


def test_email_verification_mount_point() -> None:
    html = pages18.email_verification("T", "erin", "erin@example.com", None)
    page = parse_page(html)
    assert page.kind is PageKind.EMAIL_VERIFICATION
    assert page.forms == []
    assert page.verification is not None
    assert page.verification.verify_path == "/users/sign_in"
    assert page.verification.resend_path == "/users/resend_verification_code"
    assert page.verification.obfuscated_email.startswith("er")
    assert page.csrf_token == "T"


def test_form_based_email_verification_still_read() -> None:
    page = parse_page(pages.email_verification("T", None, "erin@example.com"))
    assert page.kind is PageKind.EMAIL_VERIFICATION
    assert page.verification is None
    assert page.form_with("user[verification_token]") is not None


@pytest.mark.parametrize("style", ["classic", "gitlab18"])
def test_broadcast_banner_is_not_the_flash(style: str) -> None:
    banner = "Maintenance tonight: invalid password warnings may appear"
    if style == "gitlab18":
        html = pages18.sign_in("T", "Invalid login or password.", True, False, banner)
    else:
        html = pages.sign_in("T", "Invalid login or password.", True, False, banner)
    page = parse_page(html)
    assert page.flash == "Invalid login or password."
    (text,) = page.broadcasts
    assert text.endswith(banner)  # after GitLab's "Admin message" for screen readers


def test_alert_inside_a_banner_belongs_to_the_banner() -> None:
    html = (
        '<div class="gl-broadcast-message js-broadcast-notification-7" role="alert">'
        '<div class="gl-alert" role="alert"><p>Upgrade on Friday</p></div></div>'
        '<div class="flash-container"><div class="gl-alert" role="alert">Signed out.</div></div>'
    )
    page = parse_page(html)
    assert page.flash == "Signed out."
    assert page.broadcasts == ["Upgrade on Friday"]


def test_banner_alone_gives_no_flash() -> None:
    html = pages18.sign_in("T", None, True, False, "Scheduled downtime")
    assert parse_page(html).flash == ""


def test_registration_form_first_is_never_picked() -> None:
    html = pages.sign_in("T", None, True, False, signup=True)
    assert html.index('action="/users"') < html.index('action="/users/sign_in"')
    page = parse_page(html)
    form = page.sign_in_form()
    assert form is not None
    assert form.action == "/users/sign_in"


@pytest.mark.parametrize("action", ["/users", "/gitlab/users/", "/users/sign_up", "/users?x=1"])
def test_a_page_with_only_a_registration_form_is_no_sign_in_page(action: str) -> None:
    html = (
        '<meta name="csrf-token" content="T">'
        f'<form action="{action}" method="post"><input name="user[login]">'
        '<input type="password" name="user[password]"></form>'
    )
    page = parse_page(html)
    assert page.sign_in_form() is None
    assert page.kind is PageKind.OTHER


def test_sign_in_form_under_a_relative_root() -> None:
    html = (
        '<form action="/gitlab/users" method="post"><input type="password" name="user[password]">'
        '</form><form action="/gitlab/users/sign_in" method="post">'
        '<input type="password" name="user[password]"></form>'
    )
    form = parse_page(html).sign_in_form()
    assert form is not None
    assert form.action == "/gitlab/users/sign_in"


def test_bot_challenge_is_recognised() -> None:
    page = parse_page(pages.bot_challenge())
    assert page.challenge
    assert page.kind is PageKind.OTHER
    for html in (
        "<html><head><title>Attention Required! | Cloudflare</title></head></html>",
        '<script src="https://geo.captcha-delivery.com/captcha/"></script>',
    ):
        assert parse_page(html).challenge


@pytest.mark.parametrize("style", ["classic", "gitlab18"])
def test_gitlab_pages_are_no_challenge(style: str) -> None:
    module = pages18 if style == "gitlab18" else pages
    for html in (
        module.sign_in("T", "Invalid login or password.", True, True, "Banner"),
        module.two_factor("T", None, True, None),
    ):
        assert not parse_page(html).challenge


#: What Cloudflare's JavaScript detections put into every HTML page it passes.
CLOUDFLARE_JSD = (
    "<script>(function(){var a=document.createElement('script');"
    "a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';"
    "document.head.appendChild(a);})();</script>"
)


@pytest.mark.parametrize("style", ["classic", "gitlab18"])
def test_a_gitlab_page_behind_a_bot_filter_is_still_gitlabs(style: str) -> None:
    """Bot-check markers count only on a page with no sign-in step: a proxy's script or a
    banner's words on GitLab's own page never hide its form."""
    module = pages18 if style == "gitlab18" else pages
    banner = "Checking your browser support tonight"
    for html, kind in (
        (module.sign_in("T", None, True, True, banner), PageKind.SIGN_IN),
        (module.two_factor("T", None, True, banner), PageKind.TWO_FACTOR),
    ):
        served = html.replace("</body>", CLOUDFLARE_JSD + "</body>")
        assert CLOUDFLARE_JSD in served
        page = parse_page(served)
        assert page.kind is kind
        assert not page.challenge
    assert parse_page(pages.bot_challenge() + CLOUDFLARE_JSD).challenge


def test_two_factor_page_of_gitlab18() -> None:
    page = parse_page(pages18.two_factor("T", "Invalid two-factor code.", True, "Banner"))
    assert page.kind is PageKind.TWO_FACTOR
    assert page.flash == "Invalid two-factor code."
    form = page.form_with("user[otp_attempt]")
    assert form is not None
    assert form.hidden["user[remember_me]"] == "1"


@pytest.mark.parametrize("size", [1, 7, 64])
def test_gitlab18_pages_read_the_same_in_pieces(size: str | int) -> None:
    """The parser keeps no state across feeds that a split could break (HTMLParser buffers)."""
    from jobterm.core.signin_pages import _Parser

    for html in (LDAP18, pages18.email_verification("T", "erin", "e@example.com", "B")):
        whole = parse_page(html)
        parser = _Parser()
        step = int(size)
        for start in range(0, len(html), step):
            parser.feed(html[start : start + step])
        parser.close()
        assert parser.forms == whole.forms
        assert parser.verification == whole.verification
        assert parser.broadcast_texts() == whole.broadcasts
        assert parser.flash_texts() == whole.flashes


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda t: t.strip() != "")


@given(banner=_TEXT, flash=_TEXT, style=st.sampled_from(["classic", "gitlab18"]))
def test_banner_never_becomes_the_flash(banner: str, flash: str, style: str) -> None:
    module = pages18 if style == "gitlab18" else pages
    page = parse_page(module.sign_in("T", flash, True, True, banner))
    assert page.flash == " ".join(flash.split())
    assert len(page.broadcasts) == 1
    assert page.broadcasts[0].endswith(" ".join(banner.split()))
