"""The sandbox's web sign-in against the spec (section 2), with a plain HTTP client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pyotp
import pytest

import signin_styles
from fixtures_sandbox import MakeSandbox, SandboxInfo
from util import scaled

# Every test here runs against both page styles of the sandbox (classic, GitLab 18).
sandbox = signin_styles.sandbox
make_sandbox = signin_styles.make_sandbox
signin_style = signin_styles.signin_style

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
HIDDEN_TOKEN = re.compile(r'name="authenticity_token" value="([^"]+)"')


def client(sb: SandboxInfo) -> httpx.Client:
    return httpx.Client(base_url=sb.url, timeout=scaled(10))


def page_token(response: httpx.Response) -> str:
    found = HIDDEN_TOKEN.search(response.text)
    assert found, response.text
    return found.group(1)


def start_sign_in(c: httpx.Client) -> str:
    page = c.get("/users/sign_in")
    assert page.status_code == 200
    return page_token(page)


def post_password(
    c: httpx.Client, login: str, password: str, remember: bool = True, token: str | None = None
) -> httpx.Response:
    token = token or start_sign_in(c)
    return c.post(
        "/users/sign_in",
        data={
            "authenticity_token": token,
            "user[login]": login,
            "user[password]": password,
            "user[remember_me]": "1" if remember else "0",
        },
    )


def post_ldap(
    c: httpx.Client, username: str, password: str, *, token: str, remember: bool = False
) -> httpx.Response:
    """The LDAP form's post; `remember` ticks "remember me" (the field is left out otherwise)."""
    data = {"authenticity_token": token, "username": username, "password": password}
    if remember:
        data["remember_me"] = "1"
    return c.post("/users/auth/ldapmain/callback", data=data)


@contextmanager
def signed_in(sb: SandboxInfo, username: str, remember: bool = True) -> Iterator[httpx.Client]:
    with client(sb) as c:
        response = post_password(c, username, sb.user(username)["password"], remember)
        assert response.status_code == 302, response.text
        yield c


def api_user(c: httpx.Client) -> httpx.Response:
    return c.get("/api/v4/user")


def test_sign_in_page_carries_csrf_meta_form_and_session_cookie(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        page = c.get("/users/sign_in")
        assert page.status_code == 200
        meta = CSRF_META.search(page.text)
        assert meta
        assert meta.group(1) == page_token(page)
        for name in ("user[login]", "user[password]", "user[remember_me]"):
            assert f'name="{name}"' in page.text
        assert "_gitlab_session" in page.cookies


def test_password_sign_in_redirects_and_sets_cookies(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        token = start_sign_in(c)
        anonymous = c.cookies["_gitlab_session"]
        response = post_password(c, "demo", sandbox.user("demo")["password"], token=token)
        assert response.status_code == 302
        assert response.headers["Location"] == sandbox.url + "/"
        for name in ("_gitlab_session", "remember_user_token", "known_sign_in"):
            assert name in response.cookies, name
        assert response.cookies["_gitlab_session"] != anonymous  # the session id rotates
        assert api_user(c).json()["username"] == "demo"
        home = c.get("/")
        assert home.status_code == 200
        fresh = CSRF_META.search(home.text)
        assert fresh
        assert fresh.group(1) != token  # the CSRF token is replaced on sign-in


def test_sign_in_by_email_address(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        demo = sandbox.user("demo")
        assert post_password(c, demo["email"], demo["password"]).status_code == 302


def test_wrong_password_shows_the_form_again(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        response = post_password(c, "bob", "not-the-password")
        assert response.status_code == 200
        assert 'name="user[password]"' in response.text
        assert "Invalid login or password." in response.text
        assert api_user(c).status_code == 401
    sandbox.admin("POST", "/users/bob/unlock")  # reset the failure count


def test_unknown_user_looks_like_a_wrong_password(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        response = post_password(c, "nobody", "x")
        assert response.status_code == 200
        assert "Invalid login or password." in response.text


def test_two_factor_with_totp(sandbox: SandboxInfo) -> None:
    alice = sandbox.user("alice")
    with client(sandbox) as c:
        response = post_password(c, "alice", alice["password"])
        assert response.status_code == 200
        assert 'name="user[otp_attempt]"' in response.text
        assert api_user(c).status_code == 401  # not signed in half-way
        wrong = c.post(
            "/users/sign_in",
            data={"authenticity_token": page_token(response), "user[otp_attempt]": "000000"},
        )
        assert wrong.status_code == 200
        assert "Invalid two-factor code." in wrong.text
        code = pyotp.TOTP(alice["totp_secret"]).now()
        done = c.post(
            "/users/sign_in",
            data={
                "authenticity_token": page_token(wrong),
                "user[otp_attempt]": code,
                "user[remember_me]": "1",
            },
        )
        assert done.status_code == 302
        assert "remember_user_token" in done.cookies
        assert api_user(c).json()["username"] == "alice"


def _otp_attempt(sb: SandboxInfo, code: str) -> httpx.Response:
    with client(sb) as c:
        response = post_password(c, "alice", sb.user("alice")["password"])
        assert 'name="user[otp_attempt]"' in response.text
        return c.post(
            "/users/sign_in",
            data={"authenticity_token": page_token(response), "user[otp_attempt]": code},
        )


def test_recovery_code_works_once(sandbox: SandboxInfo) -> None:
    code = sandbox.user("alice")["recovery_codes"][-1]
    assert _otp_attempt(sandbox, code).status_code == 302
    again = _otp_attempt(sandbox, code)
    assert again.status_code == 200
    assert 'name="user[otp_attempt]"' in again.text
    sandbox.admin("POST", "/users/alice/unlock")


def test_email_verification(sandbox: SandboxInfo, signin_style: str) -> None:
    """The emailed code: a form post on older GitLab, JSON from the Vue page on GitLab 18."""
    erin = sandbox.user("erin")
    with client(sandbox) as c:
        response = post_password(c, "erin", erin["password"])
        assert response.status_code == 200
        code = sandbox.admin("GET", "/users/erin")["verification_code"]
        assert code == erin["verification_code"]  # --json printed the current code
        if signin_style == "gitlab18":
            _verify_by_json(c, response, code)
        else:
            _verify_by_form(c, response, code)
        assert api_user(c).json()["username"] == "erin"
    assert sandbox.admin("GET", "/users/erin")["verification_code"] != code  # single use


def _verify_by_form(c: httpx.Client, page: httpx.Response, code: str) -> None:
    assert 'name="user[verification_token]"' in page.text
    wrong = c.post(
        "/users/sign_in",
        data={"authenticity_token": page_token(page), "user[verification_token]": "x1"},
    )
    assert wrong.status_code == 200
    assert 'name="user[verification_token]"' in wrong.text
    done = c.post(
        "/users/sign_in",
        data={"authenticity_token": page_token(wrong), "user[verification_token]": code},
    )
    assert done.status_code == 302


def _verify_by_json(c: httpx.Client, page: httpx.Response, code: str) -> None:
    assert 'class="js-email-verification"' in page.text
    meta = CSRF_META.search(page.text)
    assert meta
    headers = {"X-CSRF-Token": meta.group(1)}
    wrong = c.post("/users/sign_in", json={"user": {"verification_token": "x1"}}, headers=headers)
    assert wrong.json()["status"] == "failure"
    done = c.post("/users/sign_in", json={"user": {"verification_token": code}}, headers=headers)
    assert done.json()["status"] == "success"


def test_stale_or_missing_csrf_token_is_422(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        start_sign_in(c)
        stale = post_password(c, "demo", sandbox.user("demo")["password"], token="stale")
        assert stale.status_code == 422
    with client(sandbox) as c:  # no session cookie at all
        token = start_sign_in(c)
        c.cookies.clear()
        assert post_password(c, "demo", "x", token=token).status_code == 422


def test_lockout_after_ten_failures(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    password = sb.user("bob")["password"]
    with client(sb) as c:
        for _ in range(9):
            response = post_password(c, "bob", "wrong")
            assert "Invalid login or password." in response.text
        tenth = post_password(c, "bob", "wrong")
        assert tenth.status_code == 200
        assert "Your account is locked." in tenth.text
        right = post_password(c, "bob", password)
        assert right.status_code == 200
        assert "Your account is locked." in right.text
        assert api_user(c).status_code == 401
    info = sb.admin("GET", "/users/bob")
    assert info["locked"]
    assert info["failed_attempts"] == 10
    sb.admin("POST", "/clock", advance=590)
    with client(sb) as c:
        assert "Your account is locked." in post_password(c, "bob", password).text
    sb.admin("POST", "/clock", advance=11)  # Devise unlocks 10 minutes after the lockout
    with client(sb) as c:
        assert post_password(c, "bob", password).status_code == 302
    assert sb.admin("GET", "/users/bob")["failed_attempts"] == 0


def test_password_sign_in_disabled_is_403_but_ldap_works(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox({"settings": {"password_authentication_enabled": False}})
    with client(sb) as c:
        page = c.get("/users/sign_in")
        assert 'name="user[password]"' not in page.text
        response = post_password(c, "demo", sb.user("demo")["password"], token=page_token(page))
        assert response.status_code == 403
        ldap = post_ldap(
            c, "lee", sb.user("lee")["password"], token=page_token(page), remember=True
        )
        assert ldap.status_code == 302
        assert api_user(c).json()["username"] == "lee"


def test_ldap_sign_in(sandbox: SandboxInfo) -> None:
    lee = sandbox.user("lee")
    with client(sandbox) as c:
        token = start_sign_in(c)
        wrong = post_ldap(c, "lee", "nope", token=token)
        assert wrong.status_code == 302
        assert wrong.headers["Location"].endswith("/users/sign_in")
        assert "Could not authenticate you from Ldapmain" in c.get("/users/sign_in").text
        stale = post_ldap(c, "lee", lee["password"], token="stale")
        assert stale.status_code == 422
        response = post_ldap(c, "lee", lee["password"], token=start_sign_in(c), remember=True)
        assert response.status_code == 302
        assert "remember_user_token" in response.cookies
        assert api_user(c).json()["username"] == "lee"
    with client(sandbox) as c:  # an LDAP user cannot use the standard form
        assert "Invalid login or password." in post_password(c, "lee", lee["password"]).text
    sandbox.admin("POST", "/users/lee/unlock")


def test_sign_out_revokes_remember_tokens_everywhere(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    with signed_in(sb, "demo") as laptop, signed_in(sb, "demo") as phone:
        home = laptop.get("/")
        meta = CSRF_META.search(home.text)
        assert meta
        stale = laptop.post("/users/sign_out", data={"authenticity_token": "stale"})
        assert stale.status_code == 422
        out = laptop.post("/users/sign_out", data={"authenticity_token": meta.group(1)})
        assert out.status_code == 302
        assert out.headers["Location"].endswith("/users/sign_in")
        assert api_user(laptop).status_code == 401
        assert api_user(phone).status_code == 200  # its session lives on...
        sb.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
        assert api_user(phone).status_code == 401  # ...but its remember-me token is gone


def test_session_expires_after_the_delay_since_last_use(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox({"settings": {"session_expire_delay": 100}})
    with signed_in(sb, "demo", remember=False) as c:
        sb.admin("POST", "/clock", advance=60)
        assert api_user(c).status_code == 200
        sb.admin("POST", "/clock", advance=60)  # 120 s after sign-in, 60 after last use
        assert api_user(c).status_code == 200
        sb.admin("POST", "/clock", advance=101)
        assert api_user(c).status_code == 401
        page = c.get("/")
        assert page.status_code == 302
        assert page.headers["Location"].endswith("/users/sign_in")


def test_remember_me_renews_an_expired_session(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    with signed_in(sb, "demo", remember=True) as remembered, signed_in(sb, "demo", False) as plain:
        old = remembered.cookies["_gitlab_session"]
        sb.admin("POST", "/users/demo/expire-sessions", remember_tokens=False)
        response = api_user(remembered)
        assert response.status_code == 200
        assert response.cookies["_gitlab_session"] != old
        assert api_user(remembered).status_code == 200
        assert api_user(plain).status_code == 401
        page = plain.get("/")
        assert page.status_code == 302


def test_remember_me_disabled_sets_no_remember_cookie(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox({"settings": {"remember_me_enabled": False}})
    with client(sb) as c:
        response = post_password(c, "demo", sb.user("demo")["password"], remember=True)
        assert response.status_code == 302
        assert "remember_user_token" not in response.cookies


def test_signed_in_visitor_of_sign_in_page_goes_home(sandbox: SandboxInfo) -> None:
    with signed_in(sandbox, "demo") as c:
        response = c.get("/users/sign_in")
        assert response.status_code == 302
        assert response.headers["Location"] == sandbox.url + "/"


def test_pages_need_a_session(sandbox: SandboxInfo) -> None:
    with client(sandbox) as c:
        for path in ("/", "/demo/webapp/-/jobs/101", "/demo/webapp"):
            response = c.get(path)
            assert response.status_code == 302, path
            assert response.headers["Location"].endswith("/users/sign_in")


@pytest.mark.parametrize(
    ("job", "terminal"),
    [("build", True), ("deploy", False), ("package", False), ("unit", False), ("lint", False)],
)
def test_web_job_json_has_terminal_path_only_when_possible(
    sandbox: SandboxInfo, job: str, terminal: bool
) -> None:
    info = sandbox.job(job)
    with signed_in(sandbox, "demo") as c:
        response = c.get(f"/{info['project']}/-/jobs/{info['id']}.json")
        assert response.status_code == 200
        data = response.json()
        assert data["id"] == info["id"]
        assert ("terminal_path" in data) is terminal
        if terminal:
            assert data["terminal_path"] == f"/{info['project']}/-/jobs/{info['id']}/terminal"


def test_web_job_json_ignores_tokens(sandbox: SandboxInfo) -> None:
    info = sandbox.job("build")
    headers = {"PRIVATE-TOKEN": sandbox.user("demo")["token"]}
    with client(sandbox) as c:
        response = c.get(f"/{info['project']}/-/jobs/{info['id']}.json", headers=headers)
        assert response.status_code == 401
    with signed_in(sandbox, "bob") as c:  # bob is no member of demo/tools/cli
        assert c.get("/demo/tools/cli/-/jobs/201.json").status_code == 404


def test_totp_codes_follow_the_wall_clock(sandbox: SandboxInfo) -> None:
    """A code of the previous 30-second step is still accepted (clock drift)."""
    secret = sandbox.user("alice")["totp_secret"]
    previous = pyotp.TOTP(secret).at(time.time() - 30)
    assert _otp_attempt(sandbox, previous).status_code == 302


def test_ldap_user_with_two_factor_continues_at_sign_in(make_sandbox: MakeSandbox) -> None:
    secret = pyotp.random_base32()
    sb = make_sandbox({"users": [{"username": "lee", "totp_secret": secret}]})
    with client(sb) as c:
        response = post_ldap(c, "lee", sb.user("lee")["password"], token=start_sign_in(c))
        assert response.status_code == 200
        assert 'action="/users/sign_in"' in response.text
        assert 'name="user[otp_attempt]"' in response.text
        done = c.post(
            "/users/sign_in",
            data={
                "authenticity_token": page_token(response),
                "user[otp_attempt]": pyotp.TOTP(secret).now(),
            },
        )
        assert done.status_code == 302
        assert api_user(c).json()["username"] == "lee"


def test_email_verification_users_lock_after_three_failures(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    with client(sb) as c:
        texts = [post_password(c, "erin", "wrong").text for _ in range(3)]
        assert "Invalid login or password." in texts[1]
        assert "Your account is locked." in texts[2]
        assert (
            "Your account is locked." in post_password(c, "erin", sb.user("erin")["password"]).text
        )


def test_session_cookie_suffix(make_sandbox: MakeSandbox) -> None:
    """Development and Geo instances name the cookie _gitlab_session_<suffix>."""
    sb = make_sandbox({"settings": {"session_cookie_suffix": "dev"}})
    with client(sb) as c:
        response = post_password(c, "demo", sb.user("demo")["password"])
        assert response.status_code == 302
        assert "_gitlab_session_dev" in response.cookies
        assert api_user(c).json()["username"] == "demo"
