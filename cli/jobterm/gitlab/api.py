"""`GitLab`: the REST API and the few web routes jobterm needs, for one signed-in host.

Authentication per request: `/api/v4` calls use the personal access token when there is one,
else the session cookie (GET alone; a POST with a cookie also needs `X-CSRF-Token`, which we
read from an HTML page's `<meta name="csrf-token">`). Web routes (`/<project>/-/jobs/<id>.json`,
sign-out) use the session cookie only: GitLab accepts no token there.

Every `Set-Cookie` is applied to the host's `CookieStore`; `close()` hands changed cookies to
`on_cookies_changed` (the session layer saves them to the keyring).

Get one from `jobterm.gitlab.session.open_gitlab`.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from jobterm.core.cookies import CookieStore
from jobterm.core.hosts import Host
from jobterm.core.signin_pages import parse_csrf_token
from jobterm.errors import AuthError, NotFoundError, ServerError
from jobterm.gitlab.failures import check_status, json_of
from jobterm.gitlab.http import WebClient, ssl_context

API = "/api/v4"
Json = dict[str, Any]


def project_ref(project: int | str) -> str:
    """`:id` of a REST path: a numeric id, or the URL-encoded full path."""
    text = str(project).strip().strip("/")
    return text if text.isdigit() else quote(text, safe="")


class GitLab:
    def __init__(
        self,
        web: WebClient,
        *,
        token: str | None = None,
        ca_cert: str | None = None,
        environ: Mapping[str, str] | None = None,
        on_cookies_changed: Callable[[CookieStore], None] | None = None,
    ) -> None:
        self.web = web
        self.host: Host = web.host
        self.token = token
        self._ca_cert = ca_cert
        self._environ = dict(environ or {})
        self._on_cookies_changed = on_cookies_changed
        self._csrf: str | None = None
        self._user: Json | None = None
        self._closed = False

    # -- state -----------------------------------------------------------------------------

    @property
    def cookies(self) -> CookieStore:
        return self.web.cookies

    @property
    def has_web_session(self) -> bool:
        return self.cookies.has_session

    def cookie_header(self) -> str:
        """The session cookie(s) only, for the terminal WebSocket's handshake."""
        return self.cookies.session_header()

    def ssl_context(self) -> ssl.SSLContext | None:
        """The REST client's trust, for wss:// (None for plain ws://)."""
        if self.host.scheme != "https":
            return None
        return ssl_context(self._ca_cert, self._environ)

    def save_cookies(self) -> None:
        """Hand changed cookies to the owner now (also done by close())."""
        if self.web.cookies_changed and self._on_cookies_changed is not None:
            self._on_cookies_changed(self.cookies)
            self.web.cookies_changed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.save_cookies()
        finally:
            self.web.close()

    def __enter__(self) -> GitLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level -------------------------------------------------------------------------

    def api_request(self, method: str, path: str, *, what: str, **options: Any) -> Any:
        """Call `/api/v4<path>` and return its JSON, or raise the matching jobterm error
        (`options` as `api_response` takes them)."""
        return json_of(self.api_response(method, path, what=what, **options), self.host, what)

    def api_response(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        use_token: bool = True,
    ) -> Any:
        headers: dict[str, str] = {"Accept": "application/json"}
        token = self.token if use_token else None
        if token:
            headers["PRIVATE-TOKEN"] = token
        elif method not in ("GET", "HEAD") and self.has_web_session:
            headers["X-CSRF-Token"] = self.csrf_token()
        return self.web.send(
            method,
            API + path,
            what=what,
            headers=headers,
            params=params,
            with_cookies=not token,
        )

    def get(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    ) -> Any:
        return self.api_request("GET", path, what=what, params=params)

    def paginate(
        self,
        path: str,
        *,
        what: str,
        params: Iterable[tuple[str, Any]] = (),
        per_page: int = 100,
        max_pages: int | None = None,
        page: int = 1,
    ) -> list[Any]:
        """The items of a paginated list from `page` on, following `X-Next-Page`, at most
        `max_pages` pages (None: all)."""
        items: list[Any] = []
        first = page
        while True:
            query = [*params, ("per_page", per_page), ("page", page)]
            response = self.api_response("GET", path, what=what, params=query)
            body = json_of(response, self.host, what)
            if not isinstance(body, list):
                raise ServerError(f"{self.host.name} sent an unexpected answer for {what}")
            items.extend(body)
            following = response.headers.get("x-next-page", "").strip()
            if not following.isdigit() or int(following) <= page:
                return items
            if max_pages is not None and page - first + 1 >= max_pages:
                return items
            page = int(following)

    def csrf_token(self) -> str:
        """A CSRF token of this session, from the `<meta>` of a GitLab page (cached)."""
        if self._csrf is None:
            response = self.web.send("GET", "/", what="a CSRF token")
            if response.is_redirect and "/users/sign_in" not in response.headers.get(
                "location", ""
            ):
                response = self.web.send("GET", response.headers["location"], what="a CSRF token")
            check_status(response, self.host, "a CSRF token")
            self._csrf = parse_csrf_token(response.text)
            if not self._csrf:
                raise ServerError(
                    f"{self.host.name} sent a page without a CSRF token", "check the host's address"
                )
        return self._csrf

    # -- REST ------------------------------------------------------------------------------

    def user(self) -> Json:
        """`GET /user`: the signed-in user (asked once per client)."""
        if self._user is None:
            self._user = self.get("/user", what="the signed-in user")
        return self._user

    def remember_user(self, user: Json) -> None:
        """The user the session check already fetched: `user()` need not ask again."""
        self._user = user

    def token_user(self) -> Json | None:
        """The user of the token alone; None if the token is rejected."""
        if not self.token:
            return None
        headers = {"Accept": "application/json", "PRIVATE-TOKEN": self.token}
        response = self.web.send(
            "GET", API + "/user", what="the token", headers=headers, with_cookies=False
        )
        if response.status_code == 401:
            return None
        body: Json = json_of(response, self.host, "the token")
        return body

    def project(self, id_or_path: int | str) -> Json:
        body: Json = self.get(f"/projects/{project_ref(id_or_path)}", what=f"project {id_or_path}")
        return body

    def projects(self, *, membership: bool = True, max_pages: int | None = 5) -> list[Json]:
        params = [("membership", "true")] if membership else []
        params.append(("archived", "false"))
        return self.paginate("/projects", what="your projects", params=params, max_pages=max_pages)

    def job(self, project: int | str, job_id: int) -> Json:
        body: Json = self.get(
            f"/projects/{project_ref(project)}/jobs/{int(job_id)}",
            what=f"job {job_id} of project {project}",
        )
        return body

    def jobs(
        self,
        project: int | str,
        scope: Sequence[str] = (),
        *,
        per_page: int = 100,
        max_pages: int | None = 1,
        page: int = 1,
    ) -> list[Json]:
        """Jobs of a project, newest first; `scope` e.g. ["running", "pending"]."""
        path = f"/projects/{project_ref(project)}/jobs"
        pages = {"per_page": per_page, "max_pages": max_pages, "page": page}
        return self._scoped_jobs(path, f"the jobs of project {project}", scope, **pages)

    def pipelines(
        self,
        project: int | str,
        *,
        status: str | None = None,
        username: str | None = None,
        ref: str | None = None,
        per_page: int = 100,
        max_pages: int | None = 1,
    ) -> list[Json]:
        params = [
            (k, v) for k, v in (("status", status), ("username", username), ("ref", ref)) if v
        ]
        return self.paginate(
            f"/projects/{project_ref(project)}/pipelines",
            what=f"the pipelines of project {project}",
            params=params,
            per_page=per_page,
            max_pages=max_pages,
        )

    def pipeline_jobs(
        self, project: int | str, pipeline_id: int, scope: Sequence[str] = ()
    ) -> list[Json]:
        path = f"/projects/{project_ref(project)}/pipelines/{int(pipeline_id)}/jobs"
        return self._scoped_jobs(path, f"the jobs of pipeline {pipeline_id}", scope, max_pages=None)

    def _scoped_jobs(self, path: str, what: str, scope: Sequence[str], **pages: Any) -> list[Json]:
        """A list of jobs filtered by status (`scope[]`), paginated as `paginate` does."""
        return self.paginate(path, what=what, params=[("scope[]", s) for s in scope], **pages)

    def user_pipelines(
        self, *, status: str | None = None, max_pages: int | None = 1
    ) -> list[Json] | None:
        """`GET /pipelines` (the user's pipelines in every project); None on older GitLab."""
        params = [("status", status)] if status else []
        try:
            return self.paginate(
                "/pipelines", what="your pipelines", params=params, max_pages=max_pages
            )
        except NotFoundError:
            return None

    def job_trace(self, project: int | str, job_id: int) -> str:
        """The job's log as text (`GET /jobs/:id/trace`)."""
        what = f"the log of job {job_id}"
        path = f"/projects/{project_ref(project)}/jobs/{int(job_id)}/trace"
        response = self.api_response("GET", path, what=what)
        check_status(response, self.host, what)
        return str(response.text)

    def retry_job(self, project: int | str, job_id: int) -> Json:
        return self._job_action(project, job_id, "retry", f"retrying job {job_id}")

    def cancel_job(self, project: int | str, job_id: int) -> Json:
        return self._job_action(project, job_id, "cancel", f"cancelling job {job_id}")

    def _job_action(self, project: int | str, job_id: int, action: str, what: str) -> Json:
        """`POST /projects/:id/jobs/:job_id/<action>`: the job as it is afterwards."""
        path = f"/projects/{project_ref(project)}/jobs/{int(job_id)}/{action}"
        body: Json = self.api_request("POST", path, what=what)
        return body

    # -- web routes (session only) ---------------------------------------------------------

    def web_job(self, project_path: str, job_id: int) -> Json:
        """`GET /<project>/-/jobs/<id>.json`: the job page's JSON, with `terminal_path` when a
        terminal can be opened. Needs the web session."""
        if not self.has_web_session:
            raise web_session_required(self.host)
        what = f"job {job_id} of {project_path}"
        path = "/" + quote(project_path.strip("/"), safe="/") + f"/-/jobs/{int(job_id)}.json"
        response = self.web.send("GET", path, what=what, headers={"Accept": "application/json"})
        if response.is_redirect and "/users/sign_in" in response.headers.get("location", ""):
            raise session_expired(self.host)
        body: Json = json_of(response, self.host, what)
        return body

    def sign_out(self) -> None:
        """End the web session on the server (GitLab also revokes remember-me tokens)."""
        token = self.csrf_token()
        response = self.web.send(
            "POST",
            "/users/sign_out",
            what="signing out",
            headers={"X-CSRF-Token": token},
            form={"authenticity_token": token},
            safe_post=True,  # signing out twice signs out once
        )
        if response.status_code not in (200, 204) and not response.is_redirect:
            check_status(response, self.host, "signing out")


def session_expired(host: Host) -> AuthError:
    return AuthError(f"session for {host.name} expired", f"run `jobterm login {host.name}`")


def web_session_required(host: Host) -> AuthError:
    return AuthError(
        f"no web session for {host.name}: a token alone cannot open a job terminal "
        "(GitLab accepts only a signed-in browser session there)",
        f"run `jobterm login {host.name}` (password) or `jobterm login {host.name} --cookie`",
    )
