"""`jobterm login`: ask for what is needed, sign in, and store the result.

Secrets are read from a hidden prompt on a terminal, or from stdin when the user says so
(`--password-stdin`) or stdin is not a terminal (`--cookie`, `--token`). With
`--password-stdin`, a two-factor or emailed code the server asks for is read from the next
line of stdin, so scripts can sign in in one go. Nothing secret is ever taken from argv.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobterm.core.cookies import (
    CookieInputError,
    ImportedCookies,
    is_session_name,
    parse_cookie_input,
)
from jobterm.core.hosts import Host, parse_host
from jobterm.core.safetext import visible
from jobterm.env import Environment
from jobterm.errors import AuthError, JobtermError, UsageError
from jobterm.gitlab.config import Config, HostConfig, load_config, update_config
from jobterm.gitlab.credentials import Secrets, SecretStore, storage_for
from jobterm.gitlab.http import WebClient, clean_token
from jobterm.gitlab.session import web_client
from jobterm.gitlab.signin import import_cookies, password_sign_in, token_user


@dataclass
class LoginOptions:
    host: str | None = None
    username: str | None = None
    password_stdin: bool = False
    cookie: bool = False
    from_browser: str | None = None  # "", "chromium", "firefox:/path/to/profile", …
    token: bool = False
    ldap: bool = False
    ldap_provider: str | None = None
    ca_cert: Path | None = None
    insecure_http: bool = False
    insecure_storage: bool = False


@dataclass
class LoginResult:
    host: Host
    username: str
    web_session: bool
    token: bool
    storage: str  # where the secrets went, for the message
    source: str | None = None  # --from-browser: "chromium (/home/me/.config/chromium/Default)"


class Asker:
    """Reads answers from a hidden prompt on a terminal, or line by line from stdin."""

    def __init__(self, env: Environment, *, from_stdin: bool) -> None:
        self.env = env
        # On a terminal, always the hidden prompt: reading the terminal as "stdin" would
        # echo the secret, and wait without a word until something is typed.
        self.from_stdin = not env.stdin_isatty

    def _prompt(self, label: str, *, hidden: bool) -> str:
        from prompt_toolkit import prompt

        try:
            return prompt(f"{label}: ", is_password=hidden)
        except EOFError:
            raise AuthError(f"no {label.lower()} given", "try again") from None

    def line(self, label: str, *, hidden: bool = True, hint: str | None = None) -> str:
        if not self.from_stdin:
            return self._prompt(label, hidden=hidden)
        raw = self.env.stdin.readline()
        if not raw:
            raise UsageError(
                f"stdin ended before the {label.lower()}",
                hint or f"give the {label.lower()} on its own line",
            )
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def rest(self, label: str) -> str:
        """Everything: a terminal prompt, or all of stdin (pasted cookies may span lines)."""
        if not self.from_stdin:
            return self._prompt(label, hidden=True)
        return self.env.stdin.read().decode("utf-8", "replace")

    def code(self, what: str, flash: str) -> str:
        if flash and not self.from_stdin:
            self.env.stderr.write(f"{visible(flash)}\n")  # the page's words: untrusted
        return self.line(
            what[:1].upper() + what[1:],
            hint=f"the server asks for a {what}: put it on the line after the password",
        )


def run_login(env: Environment, options: LoginOptions) -> LoginResult:
    _check_options(options)
    config = load_config(env)
    host, old, entry = _host_entry(env, config, options)
    store = SecretStore(env)
    store.check_usable(host.name, entry.secrets)  # fail before asking for anything
    old_secrets = _old_secrets(store, host, old)
    web = web_client(env, host, entry, _known_sign_in(old_secrets))
    try:
        secrets, user, source = _sign_in(env, web, options)
    finally:
        web.close()
    if old is not None and old_secrets is not None and old.user_id == user.get("id"):
        _keep_the_rest(secrets, old_secrets)
    entry.username = str(user.get("username") or "") or None
    entry.user_id = user.get("id") if isinstance(user.get("id"), int) else None
    store.save(host.name, secrets, entry.secrets)
    if old is not None and old.secrets != entry.secrets:
        _drop_old(store, host, old)
    update_config(env, lambda config: config.put(host.name, entry))
    web_session = any(is_session_name(name) for name in secrets.cookies)
    return LoginResult(
        host,
        entry.username or "?",
        web_session,
        secrets.token is not None,
        store.describe(entry.secrets),
        source,
    )


def _host_entry(
    env: Environment, config: Config, options: LoginOptions
) -> tuple[Host, HostConfig | None, HostConfig]:
    """The host to sign in to, its old config entry if any, and its new one."""
    text = options.host or env.environ.get("GITLAB_HOST") or config.default_host
    if not text:
        raise UsageError("which GitLab?", "run `jobterm login gitlab.example.com`")
    host = parse_host(text)
    old = config.hosts.get(host.name)
    if old is not None and "://" not in text:
        host = old.host  # a bare name keeps the scheme it was signed in with
    ca_cert = str(options.ca_cert.resolve()) if options.ca_cert else None
    entry = HostConfig(
        base_url=host.base_url,
        ca_cert=ca_cert or (old.ca_cert if old else None),
        insecure_http=options.insecure_http or (old.insecure_http if old else False),
        secrets=storage_for(options.insecure_storage),
    )
    return host, old, entry


def _check_options(options: LoginOptions) -> None:
    if options.from_browser is not None and (
        options.cookie or options.password_stdin or options.username or options.ldap
    ):
        raise UsageError(
            "--from-browser signs in without a password",
            "drop --cookie/--username/--password-stdin/--ldap",
        )
    if options.cookie and (options.password_stdin or options.username or options.ldap):
        raise UsageError(
            "--cookie signs in without a password", "drop --username/--password-stdin/--ldap"
        )
    if options.password_stdin and not options.username:
        raise UsageError("--password-stdin needs --username", "add --username NAME")
    if options.ldap_provider is not None:
        options.ldap = True


def _sign_in(
    env: Environment, web: WebClient, options: LoginOptions
) -> tuple[Secrets, dict[str, Any], str | None]:
    asker = Asker(env, from_stdin=options.password_stdin)
    token_only = options.token and not _web_sign_in_asked(options)
    user: dict[str, Any] | None = None
    source: str | None = None
    if options.from_browser is not None:
        user, source = _from_browser(env, web, options.from_browser)
    elif options.cookie:
        try:
            imported = parse_cookie_input(asker.rest("Cookie (_gitlab_session)"))
        except CookieInputError as exc:
            raise UsageError(
                str(exc), "paste the value of _gitlab_session, or a Cookie: header line"
            ) from None
        user = import_cookies(web, imported)
    elif not token_only:
        if not options.password_stdin and not env.stdin_isatty:
            raise UsageError(
                "cannot ask for the password: stdin is not a terminal",
                "pass --password-stdin (and --username) and give it on stdin",
            )
        username = options.username or asker.line("Username", hidden=False)
        if not username.strip():
            raise UsageError("no username given", "pass --username NAME")
        password = asker.line("Password")
        user = password_sign_in(
            web,
            username.strip(),
            password,
            asker.code,
            ldap=options.ldap,
            ldap_provider=options.ldap_provider,
        )
    token = _token(env, web, options, asker, user) if options.token else None
    if user is None:
        assert token is not None
        user = token_user(web, token)
    return Secrets(dict(web.cookies.cookies), token), user, source


def _web_sign_in_asked(options: LoginOptions) -> bool:
    return bool(
        options.cookie
        or options.username
        or options.password_stdin
        or options.ldap
        or options.from_browser is not None
    )


def _from_browser(env: Environment, web: WebClient, spec_text: str) -> tuple[dict[str, Any], str]:
    from jobterm.browsers.find import parse_spec, session_from_browser
    from jobterm.browsers.store import Found

    def verify(found: Found) -> dict[str, Any] | None:
        cookies = found.ordered()
        session = next(iter(cookies))
        try:
            return import_cookies(web, ImportedCookies(session, cookies))
        except AuthError:
            return None

    found, user = session_from_browser(parse_spec(spec_text), web.host, env.environ, verify)
    return user, f"{found.browser} ({found.profile})"


def _token(
    env: Environment,
    web: WebClient,
    options: LoginOptions,
    asker: Asker,
    session_user: dict[str, Any] | None,
) -> str:
    token = clean_token(env.environ.get("GITLAB_TOKEN", ""), "GITLAB_TOKEN")
    if not token:
        if options.cookie and asker.from_stdin:
            raise UsageError("stdin already gave the cookie", "set GITLAB_TOKEN for the token")
        token = clean_token(asker.line("Personal access token"), "the token given")
    if not token:
        raise UsageError("no token given", "paste it at the prompt or set GITLAB_TOKEN")
    user = token_user(web, token)
    if session_user is not None and user.get("id") != session_user.get("id"):
        raise AuthError(
            "the token belongs to another user than the session",
            "use a token of the account you signed in as",
        )
    return token


def _old_secrets(store: SecretStore, host: Host, old: HostConfig | None) -> Secrets | None:
    if old is None:
        return None
    try:
        return store.load(host.name, old.secrets)
    except Exception:
        return None


def _keep_the_rest(secrets: Secrets, old: Secrets) -> None:
    """Same user: adding a token keeps the web session, a new session keeps the token."""
    if not any(is_session_name(name) for name in secrets.cookies):
        secrets.cookies = {**old.cookies, **secrets.cookies}
    if secrets.token is None:
        secrets.token = old.token


def _known_sign_in(secrets: Secrets | None) -> dict[str, str]:
    if secrets is None or "known_sign_in" not in secrets.cookies:
        return {}
    return {"known_sign_in": secrets.cookies["known_sign_in"]}


def _drop_old(store: SecretStore, host: Host, old: HostConfig) -> None:
    # Moving between keyring and file: the copy in the other place must not linger.
    with contextlib.suppress(JobtermError):  # best effort: the new secrets are saved
        store.delete_from(host.name, old.secrets)
