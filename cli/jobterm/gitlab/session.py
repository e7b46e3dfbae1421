"""Signed-in hosts: find the host, load its secrets, check and renew the session, save cookies.

`open_gitlab(env, host, need_web_session=...)` is what commands call. It resolves the host
(the argument, else GITLAB_HOST, else the default host, else the only configured one), loads
its secrets, and checks them before anything else happens: `GET /api/v4/user` with the session
cookie; on 401 the remember-me cookie renews the session (the new cookies are saved at once);
if that fails, one line says to sign in again. A personal access token (stored, or
GITLAB_TOKEN) serves REST calls; it cannot open a job terminal, so `need_web_session=True`
insists on a session.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobterm.core.cookies import CookieStore
from jobterm.core.hosts import Host, host_for_url, parse_host
from jobterm.env import Environment
from jobterm.errors import AuthError, JobtermError, UsageError
from jobterm.gitlab.api import GitLab, session_expired, web_session_required
from jobterm.gitlab.config import Config, HostConfig, load_config, update_config
from jobterm.gitlab.credentials import Secrets, SecretStore
from jobterm.gitlab.http import WebClient, clean_token, make_client
from jobterm.gitlab.signin import renew_session, session_user


def resolve_host(
    env: Environment, config: Config, host: str | None
) -> tuple[Host, HostConfig | None]:
    """The host to use and its config entry (None when not signed in to it)."""
    text = host or env.environ.get("GITLAB_HOST") or config.default_host
    if not text and len(config.hosts) == 1:
        text = next(iter(config.hosts))
    if not text:
        if config.hosts:
            raise UsageError(
                f"signed in to several hosts: {', '.join(sorted(config.hosts))}",
                "pick one with --host HOST or GITLAB_HOST",
            )
        raise AuthError("not signed in to any GitLab host", "run `jobterm login HOST`")
    return lookup_host(config, text)


def lookup_host(config: Config, text: str) -> tuple[Host, HostConfig | None]:
    """`text` (a host, a base URL, or any URL under a configured host, such as a job's
    web URL) -> the host and its config entry (None when not signed in to it)."""
    is_url = "://" in text
    try:
        parsed: Host | None = parse_host(text)
    except UsageError:
        if not is_url:
            raise
        parsed = None
    if parsed is not None and parsed.name in config.hosts:
        entry = config.hosts[parsed.name]
        return (parsed if is_url else entry.host), entry  # a bare name keeps its scheme
    if is_url:
        known = {entry.host: entry for entry in config.hosts.values()}
        match = host_for_url(text, known)
        if match is not None:
            return match, known[match]
    if parsed is None:
        parse_host(text)  # raises the UsageError that says what is wrong
        raise AssertionError("unreachable")  # pragma: no cover
    return parsed, None


def web_client(
    env: Environment, host: Host, entry: HostConfig | None, cookies: dict[str, str] | None = None
) -> WebClient:
    client = make_client(
        host,
        ca_cert=entry.ca_cert if entry else None,
        insecure_http=entry.insecure_http if entry else False,
        environ=env.environ,
    )
    return WebClient(host, client, CookieStore.of(cookies or {}))


def open_gitlab(
    env: Environment, host: str | None, *, need_web_session: bool, check: bool = True
) -> GitLab:
    """A ready client for the host; AuthError with what to do if not signed in.

    `check=False` skips the round trip that validates the session (completion uses it).
    """
    config = load_config(env)
    resolved, entry = resolve_host(env, config, host)
    env_token = clean_token(env.environ.get("GITLAB_TOKEN", ""), "GITLAB_TOKEN") or None
    if entry is None:
        if not env_token:
            raise AuthError(
                f"not signed in to {resolved.name}", f"run `jobterm login {resolved.name}`"
            )
        if need_web_session:
            raise web_session_required(resolved)
        gitlab = GitLab(web_client(env, resolved, None), token=env_token, environ=env.environ)
    else:
        gitlab = _signed_in(env, resolved, entry, env_token)
    try:
        if not gitlab.has_web_session and not gitlab.token:
            raise AuthError(
                f"no stored session for {resolved.name}", f"run `jobterm login {resolved.name}`"
            )
        if need_web_session and not gitlab.has_web_session:
            raise web_session_required(resolved)
        if check:
            validate(gitlab, need_web_session=need_web_session)
    except BaseException:
        gitlab.close()
        raise
    return gitlab


def _signed_in(env: Environment, host: Host, entry: HostConfig, env_token: str | None) -> GitLab:
    store = SecretStore(env)
    secrets = store.load(host.name, entry.secrets) or Secrets()

    def save(cookies: CookieStore) -> None:
        secrets.cookies = dict(cookies.cookies)
        store.save(host.name, secrets, entry.secrets)

    return GitLab(
        web_client(env, host, entry, secrets.cookies),
        token=env_token or secrets.token,  # GITLAB_TOKEN wins, as in glab
        ca_cert=entry.ca_cert,
        environ=env.environ,
        on_cookies_changed=save,
    )


def validate(gitlab: GitLab, *, need_web_session: bool) -> dict[str, object]:
    """Check the credentials, renewing an expired session; the user's JSON."""
    host = gitlab.host
    if gitlab.has_web_session:
        user = check_session(gitlab)
        if user is not None:
            return user
        if need_web_session or not gitlab.token:
            raise session_expired(host)
    if gitlab.token:
        user = gitlab.token_user()
        if user is None:
            raise AuthError(
                f"the token for {host.name} was not accepted (expired or revoked)",
                f"run `jobterm login {host.name} --token` with a new one",
            )
        return user
    raise AuthError(f"not signed in to {host.name}", f"run `jobterm login {host.name}`")


def check_session(gitlab: GitLab) -> dict[str, object] | None:
    """The session's user, renewing it with the remember-me cookie if it expired (the new
    cookies are saved at once). None if the session is gone for good."""
    user = session_user(gitlab.web)
    if user is None:
        user = renew_session(gitlab.web)
    gitlab.save_cookies()
    return user


@dataclass
class HostStatus:
    name: str
    base_url: str
    username: str | None
    default: bool
    session: str  # "valid", "renewed", "expired", "none", or "unknown: <error>"
    token: str  # "valid", "rejected", "none", "from GITLAB_TOKEN: valid", ...
    storage: str  # where the secrets are (never the secrets)

    @property
    def ok(self) -> bool:
        return self.session in ("valid", "renewed") or self.token.endswith("valid")


def host_status(env: Environment, config: Config, name: str) -> HostStatus:
    """Check one configured host for `jobterm auth status`, without raising."""
    entry = config.hosts[name]
    host = entry.host
    store = SecretStore(env)
    status = HostStatus(
        name,
        host.base_url,
        entry.username,
        name == config.default_host,
        "none",
        "none",
        store.describe(entry.secrets),
    )
    try:
        gitlab = _signed_in(env, host, entry, None)
    except JobtermError as exc:
        status.session = f"unknown: {exc.message}"
        return status
    with gitlab:
        try:
            status.session = _session_state(gitlab)
            status.token = _token_state(gitlab)
        except JobtermError as exc:
            status.session = f"unknown: {exc.message}"
    return status


def _session_state(gitlab: GitLab) -> str:
    if not gitlab.has_web_session:
        return "none"
    before = gitlab.cookies.session_header()
    if check_session(gitlab) is None:
        return "expired"
    return "valid" if gitlab.cookies.session_header() == before else "renewed"


def _token_state(gitlab: GitLab) -> str:
    if not gitlab.token:
        return "none"
    return "valid" if gitlab.token_user() is not None else "rejected"


def logout(env: Environment, host: str | None) -> tuple[Host, str | None]:
    """Sign out on the server and forget the host's secrets and config.

    Returns the host and, if signing out on the server failed, why (the local secrets are
    removed regardless: the user asked to forget them)."""
    config = load_config(env)
    resolved, entry = resolve_host(env, config, host)
    if entry is None:
        raise AuthError(f"not signed in to {resolved.name}", "see `jobterm auth status`")
    problem: str | None = None
    store = SecretStore(env)
    try:
        secrets = store.load(resolved.name, entry.secrets)
        if secrets is not None and CookieStore.of(secrets.cookies).has_session:
            with GitLab(web_client(env, resolved, entry, secrets.cookies)) as gitlab:
                gitlab.sign_out()
    except JobtermError as exc:
        problem = exc.message
    store.delete(resolved.name)
    update_config(env, lambda config: config.forget(resolved.name))
    return resolved, problem


__all__ = [
    "HostStatus",
    "check_session",
    "host_status",
    "logout",
    "lookup_host",
    "open_gitlab",
    "parse_host",
    "resolve_host",
    "validate",
]
