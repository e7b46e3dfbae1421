"""The sandbox's GitLab 18 sign-in pages (signin_style = "gitlab18"), the JSON email
verification, broadcast banners, bot-check faults and a browser's remember-me post, with a
plain HTTP client (not jobterm's code)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from fixtures_sandbox import MakeSandbox, SandboxInfo, _Sandboxes
from util import scaled

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
HIDDEN_TOKEN = re.compile(r'name="authenticity_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def sb18(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    sandboxes = _Sandboxes(tmp_path_factory.mktemp("sandbox18"))
    yield sandboxes({"settings": {"signin_style": "gitlab18"}})
    sandboxes.close()


def client(sb: SandboxInfo) -> httpx.Client:
    return httpx.Client(base_url=sb.url, timeout=scaled(10))


def token_of(text: str) -> str:
    found = HIDDEN_TOKEN.search(text) or CSRF_META.search(text)
    assert found, text
    return found.group(1)


def to_verification(c: httpx.Client, sb: SandboxInfo) -> str:
    """Sign in as erin up to the email-verification page; its CSRF token (from the meta tag,
    as the page's script reads it)."""
    token = token_of(c.get("/users/sign_in").text)
    page = c.post(
        "/users/sign_in",
        data={
            "authenticity_token": token,
            "user[login]": "erin",
            "user[password]": sb.user("erin")["password"],
        },
    )
    assert page.status_code == 200
    assert 'class="js-email-verification"' in page.text
    assert "<form" not in page.text  # a mount point: the browser's script does the rest
    meta = CSRF_META.search(page.text)
    assert meta
    return meta.group(1)


def verify(c: httpx.Client, token: str, code: str) -> httpx.Response:
    return c.post(
        "/users/sign_in",
        json={"user": {"verification_token": code}},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


def test_ldap_password_input_has_only_a_data_name(sb18: SandboxInfo) -> None:
    page = c_get(sb18, "/users/sign_in")
    ldap = page[page.index('id="new_ldap_user"') : page.index("</form>", page.index("new_ldap"))]
    assert 'data-name="password"' in ldap
    assert not re.search(r'\sname="password"', ldap)
    assert 'name="username"' in ldap
    assert 'data-name="user[password]" ' in page
    assert 'name="user[password]"' in page


def c_get(sb: SandboxInfo, path: str) -> str:
    with client(sb) as c:
        response = c.get(path)
        assert response.status_code == 200
        return response.text


def test_email_verification_takes_json_and_answers_json(sb18: SandboxInfo) -> None:
    with client(sb18) as c:
        token = to_verification(c, sb18)
        wrong = verify(c, token, "000000x")
        assert wrong.status_code == 200
        assert wrong.headers["content-type"].startswith("application/json")
        assert wrong.json()["status"] == "failure"
        assert wrong.json()["message"]
        assert c.get("/api/v4/user").status_code == 401
        code = sb18.admin("GET", "/users/erin")["verification_code"]
        done = verify(c, token, code)
        assert done.json() == {
            "status": "success",
            "redirect_path": "/users/successful_verification",
        }
        assert "_gitlab_session" in done.cookies
        assert "remember_user_token" not in done.cookies
        assert c.get("/api/v4/user").json()["username"] == "erin"
        landing = c.get("/users/successful_verification")
        assert landing.status_code == 200
        assert 'href="/"' in landing.text
    assert sb18.admin("GET", "/users/erin")["verification_code"] != code  # single use


def test_json_verification_needs_the_csrf_header(sb18: SandboxInfo) -> None:
    with client(sb18) as c:
        to_verification(c, sb18)
        code = sb18.admin("GET", "/users/erin")["verification_code"]
        assert verify(c, "stale", code).status_code == 422


def test_resend_replaces_the_code(sb18: SandboxInfo) -> None:
    with client(sb18) as c:
        token = to_verification(c, sb18)
        old = sb18.admin("GET", "/users/erin")["verification_code"]
        resend = c.post(
            "/users/resend_verification_code",
            json={"user": {"email": ""}},
            headers={"X-CSRF-Token": token},
        )
        assert resend.json() == {"status": "success"}
        new = sb18.admin("GET", "/users/erin")["verification_code"]
        assert new != old
        assert verify(c, token, old).json()["status"] == "failure"
        assert verify(c, token, new).json()["status"] == "success"


def test_resend_without_a_pending_verification_does_nothing(sb18: SandboxInfo) -> None:
    with client(sb18) as c:
        token = token_of(c.get("/users/sign_in").text)
        before = sb18.admin("GET", "/users/erin")["verification_code"]
        answer = c.post("/users/resend_verification_code", headers={"X-CSRF-Token": token})
        assert answer.status_code == 204
        assert sb18.admin("GET", "/users/erin")["verification_code"] == before


@pytest.mark.parametrize("style", ["classic", "gitlab18"])
def test_broadcast_banner_on_every_sign_in_page(make_sandbox: MakeSandbox, style: str) -> None:
    sb = make_sandbox(
        {"settings": {"signin_style": style, "broadcast_message": "Upgrade <Friday> & after"}}
    )
    with client(sb) as c:
        page = c.get("/users/sign_in").text
        assert "Upgrade &lt;Friday&gt; &amp; after" in page  # escaped like all server text
        wrong = c.post(
            "/users/sign_in",
            data={
                "authenticity_token": token_of(page),
                "user[login]": "demo",
                "user[password]": "x",
            },
        )
        assert "Upgrade &lt;Friday&gt;" in wrong.text
        assert "Invalid login or password." in wrong.text
        marker = "gl-broadcast-message" if style == "gitlab18" else 'class="broadcast-message"'
        assert marker in wrong.text


def browser_post(c: httpx.Client, pairs: list[tuple[str, str]]) -> httpx.Response:
    """A urlencoded body with repeated names, byte for byte as a browser sends a form."""
    from urllib.parse import urlencode

    return c.post(
        "/users/sign_in",
        content=urlencode(pairs).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


@pytest.mark.parametrize(
    ("boxes", "remembered"), [(["0", "1"], True), (["0"], False), (["1", "0"], False)]
)
def test_remember_me_as_a_browser_posts_it(
    sb18: SandboxInfo, boxes: list[str], remembered: bool
) -> None:
    """The hidden 0 comes before the checked box's 1; Rails keeps the last value."""
    with client(sb18) as c:
        token = token_of(c.get("/users/sign_in").text)
        pairs = [("authenticity_token", token), ("user[login]", "demo")]
        pairs += [("user[password]", sb18.user("demo")["password"])]
        pairs += [("user[remember_me]", box) for box in boxes]
        answer = browser_post(c, pairs)
        assert answer.status_code == 302
        assert ("remember_user_token" in answer.cookies) is remembered


def test_ldap_remember_me_as_a_browser_posts_it(sb18: SandboxInfo) -> None:
    from urllib.parse import urlencode

    with client(sb18) as c:
        token = token_of(c.get("/users/sign_in").text)
        pairs = [("authenticity_token", token), ("username", "lee")]
        pairs += [("password", sb18.user("lee")["password"])]
        pairs += [("remember_me", "0"), ("remember_me", "1")]
        answer = c.post(
            "/users/auth/ldapmain/callback",
            content=urlencode(pairs).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 302
        assert "remember_user_token" in answer.cookies


def test_bot_challenge_fault(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox({"settings": {"faults": [{"kind": "bot_challenge", "path": "/users"}]}})
    with client(sb) as c:
        page = c.get("/users/sign_in")
        assert page.status_code == 403
        assert page.headers["cf-mitigated"] == "challenge"
        assert "csrf-token" not in page.text


def test_unknown_signin_style_is_a_config_error(tmp_path: object) -> None:
    from jobterm.errors import ConfigError
    from jobterm.sandbox.config import build_state

    with pytest.raises(ConfigError, match="signin_style"):
        build_state({"settings": {"signin_style": "gitlab99"}})
