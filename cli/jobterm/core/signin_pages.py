"""Reading GitLab's sign-in pages, without I/O.

A password sign-in is a conversation of HTML pages (spec, section 2): the sign-in form, then
maybe a two-factor form, or an email-verification form, or the sign-in form again with a flash
message ("Invalid login or password.", "Your account is locked."). `parse_page(html)` turns
one page into a `SignInPage`: the CSRF token of its `<meta name="csrf-token">`, its forms
(action, hidden inputs, the names of the other inputs), the flash messages, and which step the
page asks for (`kind`). The parser is the standard library's tolerant `HTMLParser`, so broken
markup gives a partial answer rather than an exception.

Pages of two generations are read alike:

* Inputs that Vue mounts over (GitLab 18's LDAP password) carry no `name`, only
  `data-name`; the data name stands in for the missing name.
* Email verification is a form with `user[verification_token]` on older GitLab, and on newer
  GitLab a mount point with no form, `<div class="js-email-verification"
  data-verify-path=… data-resend-path=…>`, that the browser answers with JSON
  (`VerificationMount`).
* Flash messages (`.flash-container`, `flash-*`, `gl-alert`, `role="alert"`) are the page's
  answer; an instance-wide broadcast banner (`gl-broadcast-message`, `broadcast-message`,
  `js-broadcast-notification-*`) also says `role="alert"` but is not: its text, and any
  alert inside it, goes to `broadcasts`.
* A page with the registration form beside the sign-in form: `sign_in_form()` takes the form
  that posts to the session endpoint, never `/users` (registration).
* A bot check (Cloudflare's "Just a moment...", other vendors' captcha walls) stands between
  a program and GitLab: `challenge` says so, from markers such pages carry, but only on a
  page without sign-in forms. Cloudflare puts its challenge-platform script into every page
  it passes, GitLab's own sign-in page included, and a banner may well say "checking your
  browser": a page that shows the form is GitLab's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from html.parser import HTMLParser

OTP_FIELD = "user[otp_attempt]"
VERIFICATION_FIELD = "user[verification_token]"
PASSWORD_FIELD = "user[password]"  # noqa: S105 - a form field name, not a password
LDAP_ACTION = re.compile(r"/users/auth/(?P<provider>[A-Za-z0-9_]+)/callback/?$")
_FLASH_CLASSES = ("flash-alert", "flash-notice", "flash-warning", "gl-alert", "alert")
_BROADCAST_CLASSES = ("gl-broadcast-message", "broadcast-message", "broadcast-banner-message")
_BLOCKS = frozenset({"br", "div", "p", "h1", "h2", "h3", "h4", "li", "section"})
_REGISTRATION_ACTION = re.compile(r"/users/?$|/users/sign_up/?$|registration")
_CHALLENGE = re.compile(
    r"challenge-platform|cf-chl-|cf_chl_|<title>\s*(just a moment|attention required)"
    r"|checking your browser|captcha-delivery\.com|_incapsula_resource|px-captcha",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


class PageKind(Enum):
    SIGN_IN = "sign_in"  # the username/password form (first visit, or after a failure)
    TWO_FACTOR = "two_factor"  # asks for a TOTP or recovery code
    EMAIL_VERIFICATION = "email_verification"  # asks for the code GitLab emailed
    OTHER = "other"  # no sign-in form: signed in already, an SSO portal, an error page


@dataclass
class Form:
    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)  # hidden inputs, name -> value
    fields: list[str] = field(default_factory=list)  # names of every other input

    def has(self, name: str) -> bool:
        return name in self.fields or name in self.hidden

    @property
    def ldap_provider(self) -> str | None:
        match = LDAP_ACTION.search(self.action.split("?", 1)[0])
        return match.group("provider") if match else None


@dataclass(frozen=True)
class VerificationMount:
    """GitLab's Vue email-verification page: where the code and a resend request go."""

    verify_path: str
    resend_path: str
    obfuscated_email: str = ""


@dataclass
class SignInPage:
    csrf_token: str | None
    forms: list[Form]
    flashes: list[str]
    title: str = ""
    broadcasts: list[str] = field(default_factory=list)
    verification: VerificationMount | None = None
    challenge: bool = False

    @property
    def kind(self) -> PageKind:
        if self.form_with(OTP_FIELD):
            return PageKind.TWO_FACTOR
        if self.form_with(VERIFICATION_FIELD) or self.verification is not None:
            return PageKind.EMAIL_VERIFICATION
        if self.sign_in_form() or self.ldap_forms():
            return PageKind.SIGN_IN
        return PageKind.OTHER

    def sign_in_form(self) -> Form | None:
        """The password form that signs in: one posting to the session endpoint first, and
        never one posting to registration (`/users`), whatever its field names."""
        forms = [f for f in self.forms if f.has(PASSWORD_FIELD)]
        forms = [f for f in forms if not _REGISTRATION_ACTION.search(_path(f.action))]
        for form in forms:
            if _path(form.action).endswith("/users/sign_in"):
                return form
        return forms[0] if forms else None

    def form_with(self, name: str) -> Form | None:
        for form in self.forms:
            if form.has(name):
                return form
        return None

    def ldap_forms(self) -> list[Form]:
        return [f for f in self.forms if f.ldap_provider is not None and f.has("password")]

    def token_for(self, form: Form | None) -> str | None:
        """The CSRF token to send with `form`: its hidden field, else the page's meta tag."""
        if form is not None and form.hidden.get("authenticity_token"):
            return form.hidden["authenticity_token"]
        return self.csrf_token

    @property
    def flash(self) -> str:
        """All flash messages as one line ("" when none)."""
        return " ".join(self.flashes)

    @property
    def says_locked(self) -> bool:
        return "locked" in self.flash.lower()


def _path(action: str) -> str:
    return action.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"


def parse_page(html: str) -> SignInPage:
    parser = _Parser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - HTMLParser is tolerant
        pass
    page = SignInPage(
        parser.csrf,
        parser.forms,
        parser.flash_texts(),
        parser.title.strip(),
        broadcasts=parser.broadcast_texts(),
        verification=parser.verification,
    )
    page.challenge = page.kind is PageKind.OTHER and bool(_CHALLENGE.search(html))
    return page


def parse_csrf_token(html: str) -> str | None:
    """Only the `<meta name="csrf-token">` of any GitLab HTML page."""
    return parse_page(html).csrf_token


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.csrf: str | None = None
        self.forms: list[Form] = []
        self._form: Form | None = None
        self.title = ""
        self._in_title = False
        # Open elements, so that an end tag also closes the unclosed elements inside it.
        self._stack: list[str] = []
        # Open flash elements: (stack depth once opened, collected text pieces).
        self._flashes: list[tuple[int, list[str]]] = []
        self._done_flashes: list[str] = []
        # The same for broadcast banners; alerts inside one are part of it, not flashes.
        self._broadcasts: list[tuple[int, list[str]]] = []
        self._done_broadcasts: list[str] = []
        self.verification: VerificationMount | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "meta" and values.get("name") == "csrf-token" and self.csrf is None:
            self.csrf = values.get("content") or None
        elif tag == "form":
            self._form = Form(values.get("action", ""), values.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select", "button"):
            self._input(values)
        elif tag == "title":
            self._in_title = True
        classes = values.get("class", "").split()
        if "js-email-verification" in classes and self.verification is None:
            self.verification = VerificationMount(
                values.get("data-verify-path", ""),
                values.get("data-resend-path", ""),
                values.get("data-obfuscated-email", ""),
            )
        if tag in _BLOCKS:  # "<h2>Admin message</h2><p>Text" reads as two words
            self.handle_data(" ")
        if tag in _VOID:
            return
        self._stack.append(tag)
        if any(c in _BROADCAST_CLASSES or c.startswith("js-broadcast-notif") for c in classes):
            self._broadcasts.append((len(self._stack), []))
        elif self._broadcasts:
            return  # an alert inside a banner belongs to the banner
        elif any(c in _FLASH_CLASSES or c.startswith("flash-") for c in classes) or (
            values.get("role") == "alert"
        ):
            self._flashes.append((len(self._stack), []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <input/>, <meta/>: the same as a start tag, without a depth change for void tags.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def _input(self, values: dict[str, str]) -> None:
        # Vue-mounted inputs (GitLab 18's LDAP password) keep their name in data-name.
        name = values.get("name") or values.get("data-name")
        if self._form is None or not name:
            return
        if values.get("type", "").lower() == "hidden":
            self._form.hidden.setdefault(name, values.get("value", ""))
        elif name not in self._form.fields:
            self._form.fields.append(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "title":
            self._in_title = False
        if tag in _VOID or tag not in self._stack:
            return  # a stray end tag closes nothing
        while self._stack.pop() != tag:
            pass
        _close(self._flashes, self._done_flashes, len(self._stack))
        _close(self._broadcasts, self._done_broadcasts, len(self._stack))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        for _, pieces in (*self._flashes, *self._broadcasts):
            pieces.append(data)

    def flash_texts(self) -> list[str]:
        return _texts(self._flashes, self._done_flashes)

    def broadcast_texts(self) -> list[str]:
        return _texts(self._broadcasts, self._done_broadcasts)


def _close(open_: list[tuple[int, list[str]]], done: list[str], depth: int) -> None:
    """Finish the collecting elements deeper than `depth` (their end tag was seen)."""
    while open_ and open_[-1][0] > depth:
        _, pieces = open_.pop()
        text = _SPACES.sub(" ", "".join(pieces)).strip()
        if text and text not in done:
            done.append(text)


def _texts(open_: list[tuple[int, list[str]]], done: list[str]) -> list[str]:
    # Elements left open at the end of a truncated page still count.
    _close(open_, done, -1)
    # Nested elements repeat their text: keep the outermost ones only.
    return [t for t in done if not any(t != o and t in o for o in done)]
