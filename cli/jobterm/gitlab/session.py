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

import ssl
import threading
from typing import TYPE_CHECKING

from jobterm.core.cookies import CookieStore
from jobterm.core.hosts import Host, host_for_url, parse_host
from jobterm.env import Environment
from jobterm.errors import AuthError, JobtermError, UsageError
from jobterm.gitlab.config import Config, HostConfig, load_config, update_config
from jobterm.gitlab.credentials import Secrets, SecretStore
from jobterm.gitlab.facts import Facts
from jobterm.gitlab.http import WebClient, clean_token, make_client, ssl_context

if TYPE_CHECKING:
    # The REST client and the sign-in pages load only when something needs REST: the
    # terminal's fast path needs the config and the secrets alone.
    from jobterm.gitlab.api import GitLab


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


class HostSession:
    """One signed-in host for one command: its config entry and secrets, read once (one
    keyring read). The terminal needs only the session cookie and the TLS trust; the REST
    client (httpx) is built the first time something asks for it, from the same secrets."""

    def __init__(
        self, env: Environment, host: Host, entry: HostConfig | None, env_token: str | None
    ) -> None:
        self.env = env
        self.host = host
        self.entry = entry
        self.env_token = env_token
        self.secrets = _load_secrets(env, host, entry)
        self.cookies = CookieStore.of(self.secrets.cookies)
        self._gitlab: GitLab | None = None
        self._checked = False
        self._lock = threading.Lock()  # several jobs' diagnoses may ask at once (exec fan-out)

    @property
    def has_web_session(self) -> bool:
        return self.cookies.has_session

    def cookie_header(self) -> str:
        """The session cookie(s) only, for the terminal WebSocket's handshake."""
        if self._gitlab is not None:
            return self._gitlab.cookie_header()
        return self.cookies.session_header()

    def ssl_context(self) -> ssl.SSLContext | None:
        """The trust for wss:// (None for plain ws://), as the REST client's."""
        if self.host.scheme != "https":
            return None
        return ssl_context(self.entry.ca_cert if self.entry else None, self.env.environ)

    def facts(self) -> Facts:
        """What earlier runs learned from this host in this session (see gitlab/facts.py)."""
        return Facts(self.env.cache_dir, self.host.name, self.cookie_header())

    def require(self, *, need_web_session: bool) -> None:
        """AuthError, saying what to do, when the stored secrets cannot serve at all."""
        if not self.has_web_session and not (self.env_token or self.secrets.token):
            raise AuthError(
                f"no stored session for {self.host.name}", f"run `jobterm login {self.host.name}`"
            )
        if need_web_session and not self.has_web_session:
            from jobterm.gitlab.api import web_session_required

            raise web_session_required(self.host)

    def gitlab(self, *, need_web_session: bool, check: bool = True) -> GitLab:
        """The REST client (built once); `check` validates (and renews) the session once."""
        with self._lock:
            if self._gitlab is None:
                self._gitlab = self._build()
            if check and not self._checked:
                user = validate(self._gitlab, need_web_session=need_web_session)
                self._gitlab.remember_user(dict(user))
                self._checked = True
            return self._gitlab

    def _build(self) -> GitLab:
        from jobterm.gitlab.api import GitLab

        store = SecretStore(self.env)
        entry, secrets = self.entry, self.secrets

        def save(cookies: CookieStore) -> None:
            assert entry is not None
            secrets.cookies = dict(cookies.cookies)
            store.save(self.host.name, secrets, entry.secrets)

        return GitLab(
            web_client(self.env, self.host, entry, dict(self.cookies.cookies)),
            token=self.env_token or secrets.token,  # GITLAB_TOKEN wins, as in glab
            ca_cert=entry.ca_cert if entry else None,
            environ=self.env.environ,
            on_cookies_changed=save if entry is not None else None,
        )

    def close(self) -> None:
        if self._gitlab is not None:
            self._gitlab.close()


def _load_secrets(env: Environment, host: Host, entry: HostConfig | None) -> Secrets:
    if entry is None:
        return Secrets()
    return SecretStore(env).load(host.name, entry.secrets) or Secrets()


def open_host(env: Environment, host: str | None, *, need_web_session: bool) -> HostSession:
    """The host to use and its secrets (config and keyring only: no request to the server);
    AuthError with what to do if not signed in."""
    config = load_config(env)
    resolved, entry = resolve_host(env, config, host)
    env_token = clean_token(env.environ.get("GITLAB_TOKEN", ""), "GITLAB_TOKEN") or None
    if entry is None:
        if not env_token:
            raise AuthError(
                f"not signed in to {resolved.name}", f"run `jobterm login {resolved.name}`"
            )
        if need_web_session:
            from jobterm.gitlab.api import web_session_required

            raise web_session_required(resolved)
    session = HostSession(env, resolved, entry, env_token)
    session.require(need_web_session=need_web_session)
    return session


def open_gitlab(
    env: Environment, host: str | None, *, need_web_session: bool, check: bool = True
) -> GitLab:
    """A ready client for the host; AuthError with what to do if not signed in.

    `check=False` skips the round trip that validates the session (completion uses it).
    """
    session = open_host(env, host, need_web_session=need_web_session)
    try:
        return session.gitlab(need_web_session=need_web_session, check=check)
    except BaseException:
        session.close()
        raise


def signed_in(env: Environment, host: Host, entry: HostConfig, env_token: str | None) -> GitLab:
    """A client with the host's stored secrets, not yet checked (the caller checks)."""
    return HostSession(env, host, entry, env_token).gitlab(need_web_session=False, check=False)


def validate(gitlab: GitLab, *, need_web_session: bool) -> dict[str, object]:
    """Check the credentials, renewing an expired session; the user's JSON."""
    from jobterm.gitlab.api import session_expired

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
    from jobterm.gitlab.signin import renew_session, session_user

    user = session_user(gitlab.web)
    if user is None:
        user = renew_session(gitlab.web)
    gitlab.save_cookies()
    return user


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
            from jobterm.gitlab.api import GitLab

            with GitLab(web_client(env, resolved, entry, secrets.cookies)) as gitlab:
                gitlab.sign_out()
    except JobtermError as exc:
        problem = exc.message
    store.delete(resolved.name)
    update_config(env, lambda config: config.forget(resolved.name))
    return resolved, problem


__all__ = [
    "HostSession",
    "check_session",
    "logout",
    "lookup_host",
    "open_gitlab",
    "open_host",
    "parse_host",
    "resolve_host",
    "signed_in",
    "validate",
]
