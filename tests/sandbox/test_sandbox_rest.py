"""The sandbox's REST API against the spec (sections 2 and 8), with a plain HTTP client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from fixtures_sandbox import MakeSandbox, SandboxInfo, post_sign_in
from util import scaled

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def api(sb: SandboxInfo, path: str, user: str | None = "demo", **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if user is not None:
        headers["PRIVATE-TOKEN"] = sb.user(user)["token"]
    method = kwargs.pop("method", "GET")
    HTTP.cookies.clear()  # token requests only: nothing carries over between calls
    return HTTP.request(method, sb.url + "/api/v4" + path, headers=headers, **kwargs)


# One client for the token requests: making an httpx client (its TLS context) is slow.
HTTP = httpx.Client(timeout=scaled(10))


@contextmanager
def web_client(sb: SandboxInfo, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, timeout=scaled(10)) as c:
        yield _sign_in(c, sb, username)


def _sign_in(c: httpx.Client, sb: SandboxInfo, username: str) -> httpx.Client:
    response = post_sign_in(c, sb, username)
    assert response.status_code == 302
    return c


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


# -- authentication ---------------------------------------------------------------------------


def test_private_token_header_bearer_and_parameter(sandbox: SandboxInfo) -> None:
    token = sandbox.user("bob")["token"]
    for kwargs in (
        {"headers": {"PRIVATE-TOKEN": token}},
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"params": {"private_token": token}},
    ):
        response = api(sandbox, "/user", user=None, **kwargs)
        assert response.status_code == 200
        assert response.json()["username"] == "bob"


def test_no_or_bad_credentials_are_401(sandbox: SandboxInfo) -> None:
    response = api(sandbox, "/user", user=None)
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}
    bad = api(sandbox, "/user", user=None, headers={"PRIVATE-TOKEN": "glpat-wrongwrongwrong"})
    assert bad.status_code == 401
    with web_client(sandbox, "demo") as c:  # a bad token wins over a good cookie
        assert c.get("/api/v4/user", headers={"PRIVATE-TOKEN": "glpat-nope"}).status_code == 401


def test_user_json(sandbox: SandboxInfo) -> None:
    data = api(sandbox, "/user", user="alice").json()
    assert data["id"] == sandbox.user("alice")["id"]
    assert data["username"] == "alice"
    assert data["two_factor_enabled"] is True
    assert data["state"] == "active"


def test_session_cookie_counts_for_get_and_head(sandbox: SandboxInfo) -> None:
    with web_client(sandbox, "demo") as c:
        assert c.get("/api/v4/user").json()["username"] == "demo"
        assert c.head("/api/v4/user").status_code == 200


def test_cookie_post_needs_the_csrf_token(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    cancel = "/api/v4/projects/1/jobs/101/cancel"
    with web_client(sb, "demo") as c:
        refused = c.post(cancel)
        assert refused.status_code == 401
        assert refused.json() == {"message": "401 Unauthorized"}
        wrong = c.post(cancel, headers={"X-CSRF-Token": "stale"})
        assert wrong.status_code == 401
        meta = CSRF_META.search(c.get("/").text)
        assert meta
        done = c.post(cancel, headers={"X-CSRF-Token": meta.group(1)})
        assert done.status_code == 201
        assert done.json()["status"] == "canceled"


# -- projects -----------------------------------------------------------------------------------


def test_projects_of_a_member(sandbox: SandboxInfo) -> None:
    assert sorted(ids(api(sandbox, "/projects", params={"membership": "true"}))) == [1, 2, 3]
    assert ids(api(sandbox, "/projects", user="bob", params={"membership": "true"})) == [1]
    assert ids(api(sandbox, "/projects", user=None)) == []  # no public projects
    unarchived = api(sandbox, "/projects", params={"membership": "true", "archived": "false"})
    assert 3 not in ids(unarchived)


@pytest.mark.parametrize("ref", ["2", "demo%2Ftools%2Fcli", "DEMO%2Ftools%2Fcli"])
def test_project_by_id_or_encoded_path(sandbox: SandboxInfo, ref: str) -> None:
    response = api(sandbox, f"/projects/{ref}")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == 2
    assert data["path_with_namespace"] == "demo/tools/cli"
    assert data["web_url"] == sandbox.url + "/demo/tools/cli"
    assert data["namespace"]["full_path"] == "demo/tools"


def test_archived_project_says_so(sandbox: SandboxInfo) -> None:
    assert api(sandbox, "/projects/demo%2Flegacy").json()["archived"] is True


@pytest.mark.parametrize(
    ("ref", "user"), [("999", "demo"), ("demo%2Fnope", "demo"), ("2", "bob"), ("1", None)]
)
def test_missing_or_hidden_project_is_404(sandbox: SandboxInfo, ref: str, user: str | None) -> None:
    response = api(sandbox, f"/projects/{ref}", user=user)
    assert response.status_code == 404
    assert response.json() == {"message": "404 Project Not Found"}


def test_unencoded_path_is_no_route(sandbox: SandboxInfo) -> None:
    response = api(sandbox, "/projects/demo/webapp")
    assert response.status_code == 404
    assert response.json() == {"error": "404 Not Found"}


# -- jobs ---------------------------------------------------------------------------------------


def test_jobs_scope_filters(sandbox: SandboxInfo) -> None:
    running = api(sandbox, "/projects/1/jobs", params={"scope[]": "running", "per_page": 100})
    assert set(ids(running)) == {101, 102, 103, 107, 108, 109}
    finished = api(sandbox, "/projects/1/jobs?scope[]=success&scope[]=failed")
    assert ids(finished) == [106, 105]  # newest first
    assert ids(api(sandbox, "/projects/1/jobs", params={"scope": "pending"})) == [104]
    assert len(ids(api(sandbox, "/projects/1/jobs", params={"per_page": 100}))) == 9
    invalid = api(sandbox, "/projects/1/jobs", params={"scope[]": "sleeping"})
    assert invalid.status_code == 400
    assert invalid.json() == {"error": "scope does not have a valid value"}


def test_job_json_shape(sandbox: SandboxInfo) -> None:
    job = api(sandbox, "/projects/demo%2Fwebapp/jobs/101").json()
    for key in (
        "id",
        "status",
        "stage",
        "name",
        "ref",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "user",
        "pipeline",
        "web_url",
        "runner",
    ):
        assert key in job, key
    assert job["status"] == "running"
    assert job["finished_at"] is None
    assert job["web_url"] == sandbox.job(101)["web_url"]
    assert job["web_url"] == sandbox.url + "/demo/webapp/-/jobs/101"
    assert job["user"]["username"] == "demo"
    assert job["pipeline"]["project_id"] == 1
    assert job["runner"]["is_shared"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", job["created_at"])
    assert "terminal_path" not in job  # REST does not say whether a terminal is possible


def test_job_runners_and_pending_job(sandbox: SandboxInfo) -> None:
    shared = api(sandbox, "/projects/1/jobs/108").json()["runner"]
    assert shared["runner_type"] == "instance_type"
    assert shared["is_shared"] is True
    pending = api(sandbox, "/projects/1/jobs/104").json()
    assert pending["status"] == "pending"
    assert pending["started_at"] is None
    assert pending["runner"] is None
    finished = api(sandbox, "/projects/1/jobs/106").json()
    assert finished["status"] == "failed"
    assert finished["finished_at"] is not None
    assert finished["duration"] > 0


def test_job_errors(sandbox: SandboxInfo) -> None:
    elsewhere = api(sandbox, "/projects/1/jobs/201")  # a job of another project
    assert elsewhere.status_code == 404
    assert elsewhere.json() == {"message": "404 Not found"}
    bad = api(sandbox, "/projects/1/jobs/abc")
    assert bad.status_code == 400
    assert bad.json() == {"error": "job_id is invalid"}
    assert api(sandbox, "/projects/2/jobs/201", user="bob").status_code == 404


def test_pagination_headers(sandbox: SandboxInfo) -> None:
    response = api(sandbox, "/projects/1/jobs", params={"per_page": 2, "page": 2})
    assert ids(response) == [107, 106]
    headers = response.headers
    assert headers["X-Page"] == "2"
    assert headers["X-Per-Page"] == "2"
    assert headers["X-Total"] == "9"
    assert headers["X-Total-Pages"] == "5"
    assert headers["X-Next-Page"] == "3"
    assert headers["X-Prev-Page"] == "1"
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', headers["Link"]))
    assert set(links) == {"prev", "next", "first", "last"}
    assert "page=5" in links["last"]
    follow = HTTP.get(links["next"], headers={"PRIVATE-TOKEN": sandbox.user("demo")["token"]})
    assert ids(follow) == [105, 104]
    last = api(sandbox, "/projects/1/jobs", params={"per_page": 2, "page": 5})
    assert last.headers["X-Next-Page"] == ""
    assert api(sandbox, "/projects/1/jobs", params={"page": "x"}).status_code == 400


def test_retry_and_cancel(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    retried = api(sb, "/projects/1/jobs/106/retry", method="POST")
    assert retried.status_code == 201
    clone = retried.json()
    assert clone["id"] not in (106, *[j["id"] for j in sb.jobs])
    assert clone["name"] == "e2e"
    assert clone["status"] in ("pending", "running")
    assert api(sb, f"/projects/1/jobs/{clone['id']}").status_code == 200
    busy = api(sb, "/projects/1/jobs/101/retry", method="POST")
    assert busy.status_code == 403
    canceled = api(sb, "/projects/1/jobs/102/cancel", method="POST")
    assert canceled.status_code == 201
    assert canceled.json()["status"] == "canceled"
    assert api(sb, "/projects/1/jobs/102").json()["finished_at"] is not None
    assert api(sb, "/projects/3/jobs/301/cancel", method="POST").status_code == 403  # archived
    assert api(sb, "/projects/1/jobs/101/cancel", method="POST", user=None).status_code == 401


# -- pipelines --------------------------------------------------------------------------------


def test_project_pipelines_filters(sandbox: SandboxInfo) -> None:
    running = api(sandbox, "/projects/1/pipelines", params={"status": "running"})
    assert set(ids(running)) == {1001, 1002, 1005, 1006}
    mine = api(sandbox, "/projects/1/pipelines", params={"status": "running", "username": "demo"})
    assert set(ids(mine)) == {1001, 1005}
    pipeline = running.json()[0]
    for key in ("id", "iid", "project_id", "sha", "ref", "status", "source", "web_url"):
        assert key in pipeline
    assert api(sandbox, "/projects/1/pipelines?status=nope").status_code == 400
    jobs = api(sandbox, "/projects/1/pipelines/1004/jobs")
    assert sorted(ids(jobs)) == [105, 106]


def test_user_pipelines_across_projects(sandbox: SandboxInfo) -> None:
    mine = api(sandbox, "/pipelines", params={"per_page": 100})
    assert {p["project_id"] for p in mine.json()} == {1, 2, 3}
    assert 1002 not in ids(mine)  # bob's
    assert api(sandbox, "/pipelines", user=None).status_code == 401


def test_user_pipelines_missing_on_older_gitlab(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox({"settings": {"pipelines_api": False}})
    response = api(sb, "/pipelines")
    assert response.status_code == 404
    assert response.json() == {"error": "404 Not Found"}


# -- bad requests and faults ----------------------------------------------------------------


def test_unknown_routes_and_methods_answer_json(sandbox: SandboxInfo) -> None:
    response = api(sandbox, "/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": "404 Not Found"}
    wrong_method = api(sandbox, "/user", method="DELETE")
    assert wrong_method.status_code in (404, 405)
    assert wrong_method.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ({"kind": "server_error", "status": 502}, 502),
        ({"kind": "rate_limit", "retry_after": 7}, 429),
        ({"kind": "html"}, 200),
        ({"kind": "sign_in_redirect"}, 302),
    ],
)
def test_rest_faults(sandbox: SandboxInfo, fault: dict[str, Any], status: int) -> None:
    sandbox.admin("POST", "/faults", **fault, times=1)
    response = api(sandbox, "/user")
    assert response.status_code == status
    if fault["kind"] == "rate_limit":
        assert response.headers["Retry-After"] == "7"
    if fault["kind"] == "html":
        assert response.headers["Content-Type"].startswith("text/html")
    if fault["kind"] == "sign_in_redirect":
        assert response.headers["Location"].endswith("/users/sign_in")
    assert api(sandbox, "/user").status_code == 200  # times = 1: the next request is served


def test_faults_from_the_config_file(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox({"settings": {"faults": [{"kind": "rate_limit", "times": 2}]}})
    assert [api(sb, "/user").status_code for _ in range(3)] == [429, 429, 200]


def test_faults_through_the_control_api(sandbox: SandboxInfo) -> None:
    sandbox.admin("POST", "/faults", kind="server_error", path="/api/v4/projects")
    try:
        assert api(sandbox, "/projects/1").status_code == 500
        assert api(sandbox, "/user").status_code == 200  # another path
    finally:
        sandbox.admin("DELETE", "/faults")
    assert api(sandbox, "/projects/1").status_code == 200


def test_control_api_needs_the_admin_token(sandbox: SandboxInfo) -> None:
    response = HTTP.get(sandbox.url + "/-/sandbox/state")
    assert response.status_code == 401
    wrong = HTTP.get(sandbox.url + "/-/sandbox/state", headers={"X-Sandbox-Token": "x"})
    assert wrong.status_code == 401
    assert sandbox.admin("GET", "/state")["url"] == sandbox.url
    bad = sandbox.admin_response("POST", "/jobs/101/finish", status="exploded")
    assert bad.status_code == 400


def test_control_api_moves_jobs(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    assert sb.admin("POST", "/jobs/104/start")["status"] == "running"
    assert api(sb, "/projects/1/jobs/104").json()["status"] == "running"
    sb.admin("POST", "/jobs/104/finish", status="failed")
    assert api(sb, "/projects/1/jobs/104").json()["status"] == "failed"
    assert sb.admin_response("POST", "/jobs/104/start").status_code == 409
    sb.admin("POST", "/jobs/101/end-script", status="failed")
    assert api(sb, "/projects/1/jobs/101").json()["status"] == "failed"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/users/sign_in", {"content": b"\xff\xfe=%%%"}, 422),
        ("POST", "/users/sign_in", {"files": {"user[login]": ("a", b"x")}}, 422),
        ("POST", "/users/sign_out", {}, 422),
        ("PUT", "/users/sign_in", {}, 404),
        ("GET", "/api/v4/projects/%FF", {}, 404),
        ("GET", "/api/v4/projects/1/jobs/99999999999999999999999", {}, 404),
        ("GET", "/api/v4/projects/1/pipelines/abc", {}, 400),
        ("GET", "/api/v4/projects/1/jobs?per_page=-5&page=99999999999999999999", {}, 200),
        ("DELETE", "/api/v4/projects/1", {}, 405),
        ("GET", "/api/v4/projects/" + "9" * 5000, {}, 404),  # past Python's int() digit limit
        ("GET", "/api/v4/projects/1/jobs/" + "9" * 5000, {}, 404),
        ("GET", "/api/v4/projects/1/pipelines/" + "9" * 5000, {}, 404),
        ("GET", "/api/v4/projects/1/jobs/%C2%B2", {}, 400),  # "²".isdigit(), not a number
        ("GET", "/api/v4/projects/1/pipelines/%C2%B2", {}, 400),
        ("GET", "/api/v4/projects/%C2%B2", {}, 404),
    ],
)
def test_bad_requests_get_answers_not_tracebacks(
    sandbox: SandboxInfo, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    headers = {"PRIVATE-TOKEN": sandbox.user("demo")["token"]}
    if "content" in kwargs:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    HTTP.cookies.clear()
    response = HTTP.request(method, sandbox.url + path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    if path.startswith("/api/"):
        assert response.headers["Content-Type"].startswith("application/json")
    assert "Traceback" not in response.text
    assert "error while answering" not in sandbox.stderr()


@pytest.mark.parametrize(
    "headers",
    [
        {"PRIVATE-TOKEN": b"glpat-\xc3\xa9"},  # non-ASCII: compare_digest refuses such str
        {"Authorization": b"Bearer \xff"},
    ],
)
def test_non_ascii_token_is_401(sandbox: SandboxInfo, headers: dict[str, bytes]) -> None:
    HTTP.cookies.clear()
    response = HTTP.get(sandbox.url + "/api/v4/user", headers=headers)
    assert response.status_code == 401, response.text
    query = HTTP.get(sandbox.url + "/api/v4/user?private_token=%C3%A9")
    assert query.status_code == 401, query.text
    admin = HTTP.get(sandbox.url + "/-/sandbox/state", headers={"X-Sandbox-Token": b"\xff"})
    assert admin.status_code == 401, admin.text
    with web_client(sandbox, "demo") as c:
        csrf = c.post("/api/v4/projects/1/jobs/101/cancel", headers={"X-CSRF-Token": b"\xff"})
        assert csrf.status_code == 401, csrf.text
    assert "error while answering" not in sandbox.stderr()


def test_broken_multipart_sign_in_is_422(sandbox: SandboxInfo) -> None:
    with httpx.Client(base_url=sandbox.url, timeout=scaled(10)) as c:
        c.get("/users/sign_in")  # a session, so only the form is wrong
        response = c.post(
            "/users/sign_in",
            content=b"--xx\r\nnot a header line\r\n\r\n--xx--\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=xx"},
        )
    assert response.status_code == 422, response.text
    assert "error while answering" not in sandbox.stderr()


def test_fault_settings_are_checked(sandbox: SandboxInfo) -> None:
    for body in ({"kind": "boom"}, {"kind": "html", "times": "x"}, {"kind": "html", "status": 99}):
        response = sandbox.admin_response("POST", "/faults", **body)
        assert response.status_code == 400
    assert sandbox.admin_response("PATCH", "/settings", pipelines_api="no").status_code == 400
