"""core/signin_pages.py: which sign-in step a page asks for, its CSRF token and flash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.signin_pages import PageKind, parse_csrf_token, parse_page

SIGN_IN = """<!DOCTYPE html><html><head><title>Sign in · GitLab</title>
<meta name="csrf-param" content="authenticity_token" />
<meta name="csrf-token" content="META+TOKEN/==" />
</head><body>
<div class="flash-container flash-container-page sticky">
  <div class="flash-alert" data-testid="alert-danger">
    <div class="flash-text">Invalid login or password.</div>
  </div>
</div>
<form class="new_user" id="new_user" action="/users/sign_in" accept-charset="UTF-8" method="post">
<input type="hidden" name="authenticity_token" value="FORM+TOKEN" autocomplete="off" />
<input class="form-control" type="text" name="user[login]" id="user_login" />
<input class="form-control" type="password" name="user[password]" id="user_password" />
<input name="user[remember_me]" type="hidden" value="0" />
<input type="checkbox" value="1" name="user[remember_me]" />
<button type="submit">Sign in</button>
</form>
<form action="/users/auth/ldapmain/callback" method="post" id="new_ldap_user">
<input type="hidden" name="authenticity_token" value="LDAP+TOKEN" />
<input type="text" name="username" /><input type="password" name="password" />
<input type="checkbox" name="remember_me" value="1" />
</form>
<form action="/users/auth/ldapsecondary/callback" method="post">
<input type="text" name="username"><input type="password" name="password">
</form>
</body></html>"""

TWO_FACTOR = """<html><head><meta content="M2" name="csrf-token"></head><body>
<form action="/gitlab/users/sign_in" method="post">
<input type="hidden" name="authenticity_token" value="F2">
<input type="hidden" name="user[remember_me]" value="1">
<input type="text" name="user[otp_attempt]" autocomplete="one-time-code">
</form></body></html>"""

VERIFY = """<html><head><meta name="csrf-token" content="M3"></head><body>
<div class="gl-alert gl-alert-danger">
<p>The code is incorrect. Enter it again, or send a new code.</p></div>
<form action="/users/sign_in" method="post">
<input type="hidden" name="authenticity_token" value="F3">
<input name="user[verification_token]" type="text"></form></body></html>"""

LOCKED = """<html><head><meta name="csrf-token" content="M4"></head><body>
<div class="flash-container"><div class="flash-alert">Your account is locked.</div></div>
<form action="/users/sign_in" method="post">
<input type="hidden" name="authenticity_token" value="F4">
<input name="user[login]"><input type="password" name="user[password]"></form></body></html>"""


def test_sign_in_page() -> None:
    page = parse_page(SIGN_IN)
    assert page.kind is PageKind.SIGN_IN
    assert page.csrf_token == "META+TOKEN/=="
    assert page.title == "Sign in · GitLab"
    form = page.form_with("user[password]")
    assert form is not None
    assert form.action == "/users/sign_in"
    assert form.method == "post"
    assert page.token_for(form) == "FORM+TOKEN"
    assert form.hidden["user[remember_me]"] == "0"
    assert page.flashes == ["Invalid login or password."]
    assert not page.says_locked
    providers = [f.ldap_provider for f in page.ldap_forms()]
    assert providers == ["ldapmain", "ldapsecondary"]
    # A form without a hidden token falls back to the page's meta token.
    assert page.token_for(page.ldap_forms()[1]) == "META+TOKEN/=="


def test_two_factor_page() -> None:
    page = parse_page(TWO_FACTOR)
    assert page.kind is PageKind.TWO_FACTOR
    form = page.form_with("user[otp_attempt]")
    assert form is not None
    assert form.action == "/gitlab/users/sign_in"
    assert page.token_for(form) == "F2"
    assert page.flashes == []


def test_email_verification_page() -> None:
    page = parse_page(VERIFY)
    assert page.kind is PageKind.EMAIL_VERIFICATION
    assert page.flash == "The code is incorrect. Enter it again, or send a new code."


def test_locked_flash() -> None:
    page = parse_page(LOCKED)
    assert page.kind is PageKind.SIGN_IN
    assert page.says_locked


def test_other_pages() -> None:
    assert parse_page("").kind is PageKind.OTHER
    assert parse_page("<html><body>Welcome to the SSO portal</body></html>").kind is PageKind.OTHER
    assert parse_page('{"json": true}').csrf_token is None
    assert parse_csrf_token('<meta name="csrf-token" content="x&amp;y">') == "x&y"


def test_unclosed_elements_inside_a_flash() -> None:
    page = parse_page('<div class="flash-alert"><p>Bad <b>code</div><div>not a flash</div>')
    assert page.flashes == ["Bad code"]
    truncated = parse_page('<div role="alert">Cut off mid')
    assert truncated.flashes == ["Cut off mid"]
    stray = parse_page('</span></div><div class="flash-notice">Signed out.</div></p>')
    assert stray.flashes == ["Signed out."]


def test_same_answer_fed_whole_or_split() -> None:
    # HTMLParser buffers: the page object does not depend on chunking. Check by slicing.
    for html in (SIGN_IN, TWO_FACTOR, VERIFY, LOCKED):
        whole = parse_page(html)
        assert whole == parse_page(html)  # deterministic
        for cut in range(0, len(html), 97):
            partial = parse_page(html[:cut])  # a truncated page never raises
            assert partial.kind in PageKind


@given(st.text(max_size=300))
def test_parser_never_crashes(text: str) -> None:
    page = parse_page(text)
    assert page.kind in PageKind
    assert "\n" not in page.flash


@given(
    st.lists(
        st.sampled_from(
            [
                "<div class='flash-alert'>",
                "</div>",
                "<p>",
                "</p>",
                "x",
                "<form action='/users/sign_in'>",
                "<input name='user[otp_attempt]'>",
                "</form>",
                "<meta name='csrf-token' content='t'>",
            ]
        ),
        max_size=40,
    )
)
def test_tag_soup(pieces: list[str]) -> None:
    page = parse_page("".join(pieces))
    if any("otp_attempt" in p for p in pieces) and pieces.index(
        "<input name='user[otp_attempt]'>"
    ) > min((i for i, p in enumerate(pieces) if p.startswith("<form")), default=10**9):
        # The input belongs to a form only when a form is open; closed forms drop it.
        assert page.kind in (PageKind.TWO_FACTOR, PageKind.OTHER)
