"""The HTTP layer in-process against the sandbox: sign-in answers the CLI cannot provoke
(403 after the form was shown, 422), cookie names with a suffix, and error mapping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fixtures_auth import jobterm
from fixtures_sandbox import MakeSandbox, SandboxInfo
from jobterm.core.cookies import CookieStore
from jobterm.core.hosts import parse_host
from jobterm.core.signin_pages import parse_page
from jobterm.errors import (
    AuthError,
    ForbiddenError,
    JobtermError,
    NotFoundError,
    ServerError,
    UsageError,
)
from jobterm.gitlab import signin
from jobterm.gitlab.api import GitLab
from jobterm.gitlab.failures import check_status, json_of
from jobterm.gitlab.http import WebClient, check_scheme, make_client, safe_header_lines


def web_for(url: str) -> WebClient:
    host = parse_host(url)
    return WebClient(host, make_client(host), CookieStore())


def never_asked(what: str, flash: str) -> str:
    raise AssertionError(f"asked for {what}")


def post_credentials(web: WebClient, password: str, token: str | None = None) -> Any:
    page = parse_page(web.send("GET", "/users/sign_in", what="page").text)
    form = page.form_with("user[password]")
    assert form is not None
    fields = {
        "authenticity_token": token or page.token_for(form) or "",
        "user[login]": "demo",
        "user[password]": password,
    }
    return web.send("POST", "/users/sign_in", what="signing in", form=fields)


def test_403_after_the_form_was_shown(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox()
    web = web_for(sandbox.url)
    page = parse_page(web.send("GET", "/users/sign_in", what="page").text)
    sandbox.admin("PATCH", "/settings", password_authentication_enabled=False)
    form = page.form_with("user[password]")
    assert form is not None
    response = web.send(
        "POST",
        "/users/sign_in",
        what="signing in",
        form={
            "authenticity_token": page.token_for(form) or "",
            "user[login]": "demo",
            "user[password]": "demo-password",
        },
    )
    assert response.status_code == 403
    with pytest.raises(AuthError, match="password sign-in is disabled") as info:
        signin._follow(web, response, never_asked)
    assert "--from-browser" in (info.value.hint or "")
    web.close()


def test_422_stale_csrf_token(sandbox: SandboxInfo) -> None:
    web = web_for(sandbox.url)
    response = post_credentials(web, "demo-password", token="stale-token")
    assert response.status_code == 422
    with pytest.raises(ServerError, match="CSRF") as info:
        signin._follow(web, response, never_asked)
    assert info.value.exit_code == 9
    web.close()


def test_full_sign_in_in_process_and_the_api(sandbox: SandboxInfo) -> None:
    web = web_for(sandbox.url)
    user = signin.password_sign_in(web, "demo", "demo-password", never_asked)
    assert user["username"] == "demo"
    assert web.cookies.has_session
    assert "remember_user_token" in web.cookies.cookies
    assert "known_sign_in" in web.cookies.cookies
    with GitLab(web) as gitlab:
        assert gitlab.project("demo/webapp")["path_with_namespace"] == "demo/webapp"
        assert gitlab.project(1)["id"] == 1
        job = gitlab.job("demo/webapp", 101)
        assert job["status"] == "running"
        running = gitlab.jobs("demo/webapp", ["running"])
        assert {j["id"] for j in running} >= {101, 102}
        assert all(j["status"] == "running" for j in running)
        one_per_page = gitlab.jobs("demo/webapp", per_page=1, max_pages=3)
        assert len(one_per_page) == 3
        second = gitlab.jobs("demo/webapp", per_page=1, page=2)
        assert [j["id"] for j in second] == [one_per_page[1]["id"]]
        assert gitlab.web_job("demo/webapp", 101).get("terminal_path")
        assert gitlab.user_pipelines() is not None
        with pytest.raises(NotFoundError, match="job 999999"):
            gitlab.job("demo/webapp", 999999)
        # A POST with the session cookie needs the CSRF token: fetched from a page.
        cancelled = gitlab.cancel_job("demo/webapp", 104)
        assert cancelled["status"] == "canceled"
        assert gitlab.cookie_header().startswith("_gitlab_session=")
        assert "remember_user_token" not in gitlab.cookie_header()


def test_session_cookie_with_a_suffix(make_sandbox: MakeSandbox, signed_in: Any) -> None:
    sandbox = make_sandbox({"settings": {"session_cookie_suffix": "dev4f2a"}})
    env = signed_in(sandbox)
    result = jobterm(["auth", "status"], env)
    assert result.returncode == 0, result.stderr
    assert "session:  valid" in result.stdout
    web = web_for(sandbox.url)
    signin.password_sign_in(web, "demo", "demo-password", never_asked)
    assert web.cookies.session_names == ["_gitlab_session_dev4f2a"]
    with GitLab(web) as gitlab:
        assert gitlab.cookie_header().startswith("_gitlab_session_dev4f2a=")


def test_plain_http_rules() -> None:
    check_scheme(parse_host("http://127.0.0.1:1"), insecure_http=False)
    check_scheme(parse_host("http://[::1]:1"), insecure_http=False)
    check_scheme(parse_host("http://gitlab.example.com"), insecure_http=True)
    with pytest.raises(UsageError, match="refusing plain http"):
        check_scheme(parse_host("http://gitlab.example.com"), insecure_http=False)
    with pytest.raises(UsageError):
        make_client(parse_host("http://10.1.2.3"))


def response(
    status: int, body: bytes = b"", content_type: str = "application/json", **headers: str
) -> httpx.Response:
    request = httpx.Request("GET", "https://gitlab.example.com/api/v4/x")
    return httpx.Response(
        status, content=body, request=request, headers={"content-type": content_type, **headers}
    )


HOST = parse_host("gitlab.example.com")


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (response(401), AuthError, "did not accept your credentials"),
        (response(403, b'{"message": "403 Forbidden"}'), ForbiddenError, "refused access"),
        (response(404, b'{"message": "404 Project Not Found"}'), NotFoundError, "not found"),
        (response(429, b"slow down", "text/plain", **{"retry-after": "30"}), ServerError, "429"),
        (response(500), ServerError, "failed with 500"),
        (response(503), ServerError, "503"),
        (response(302, location="https://gitlab.example.com/users/sign_in"), AuthError, "signed"),
        (response(301, location="https://other.example.com/"), ServerError, "redirected"),
        (response(409, b'{"message": "409 Conflict"}'), JobtermError, "409 Conflict"),
        (response(200, b"<!DOCTYPE html><html>", "text/html"), ServerError, "HTML page"),
        (response(200, b"\n <html>", "application/json"), ServerError, "HTML page"),
        (response(200, b"{broken", "application/json"), ServerError, "not JSON"),
    ],
)
def test_answers_map_to_errors(
    answer: httpx.Response, error: type[JobtermError], words: str
) -> None:
    with pytest.raises(error, match=words) as info:
        json_of(answer, HOST, "the thing")
    assert "\n" not in info.value.message


def test_429_hint_and_2xx() -> None:
    with pytest.raises(ServerError) as info:
        check_status(response(429, **{"retry-after": "30"}), HOST, "x")
    assert info.value.hint == "wait 30 seconds and try again"
    check_status(response(204), HOST, "x")
    assert json_of(response(200, b'[{"id": 1}]'), HOST, "x") == [{"id": 1}]


def test_safe_header_lines_mask_every_secret() -> None:
    lines = safe_header_lines(
        [
            ("Cookie", "_gitlab_session=abc123; remember_user_token=xyz"),
            ("PRIVATE-TOKEN", "glpat-aaaaaaaaaaaaaaaaaaaa"),
            ("Authorization", "Bearer glpat-bbbbbbbbbbbbbbbbbbbb"),
            ("X-CSRF-Token", "csrfcsrf"),
            ("Set-Cookie", "_gitlab_session=newsecret; path=/; HttpOnly"),
            ("Content-Type", "text/html"),
        ]
    )
    text = "\n".join(lines)
    for secret in ("abc123", "xyz", "glpat-aaaa", "glpat-bbbb", "csrfcsrf", "newsecret"):
        assert secret not in text
    assert "Set-Cookie: _gitlab_session=[REDACTED]; path=/; HttpOnly" in lines
    assert "Content-Type: text/html" in lines
