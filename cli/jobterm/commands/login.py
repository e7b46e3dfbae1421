"""`jobterm login [HOST]`: sign in to a GitLab instance and keep the session."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = """\
Sign in to a GitLab instance and keep the web session in your OS keyring.

HOST is gitlab.example.com, https://gitlab.example.com/ or an instance under a path
(https://example.com/gitlab); default: GITLAB_HOST, else the default host.

By default jobterm asks for your username and password (then a two-factor code or an
emailed code if GitLab asks). For single sign-on, WebAuthn or captcha instances, sign in with
your browser, then `jobterm login HOST --from-browser` reads the session from its profile
(chrome, chromium, brave, edge, firefox; BROWSER:PROFILE picks one), or copy the
_gitlab_session cookie yourself: `jobterm login HOST --cookie`.
A personal access token (--token, or GITLAB_TOKEN) serves REST calls only: opening a job
terminal needs a web session.
"""


def _names_a_browser(value: str) -> bool:
    from jobterm.browsers.find import ALIASES, ORDER

    name = value.split(":", 1)[0].strip().lower()
    return name in ORDER or name in ALIASES or name == "auto"


def register(app: typer.Typer) -> None:
    @app.command("login", help=HELP)
    def login(
        ctx: typer.Context,
        host: str | None = typer.Argument(
            None, metavar="HOST", help="The GitLab instance (default: GITLAB_HOST)."
        ),
        username: str | None = typer.Option(
            None, "--username", "-u", help="Your GitLab username or email."
        ),
        password_stdin: bool = typer.Option(
            False,
            "--password-stdin",
            help="Read the password from stdin (and a two-factor code from the next line).",
        ),
        cookie: bool = typer.Option(
            False,
            "--cookie",
            help="Import a _gitlab_session cookie from a browser (hidden prompt, or stdin).",
        ),
        from_browser: str | None = typer.Option(
            None,
            "--from-browser",
            metavar="[BROWSER[:PROFILE]]",
            help="Read the session from a browser profile where you are signed in.",
        ),
        token: bool = typer.Option(
            False,
            "--token",
            help="Also keep a personal access token for REST (GITLAB_TOKEN, prompt or stdin).",
        ),
        ldap: bool = typer.Option(False, "--ldap", help="Sign in with LDAP credentials."),
        ldap_provider: str | None = typer.Option(
            None, "--ldap-provider", metavar="NAME", help="Which LDAP server (default: ldapmain)."
        ),
        ca_cert: Path | None = typer.Option(
            None,
            "--ca-cert",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="Trust this CA bundle for HOST (saved for later commands).",
        ),
        insecure_http: bool = typer.Option(
            False, "--insecure-http", help="Allow plain http:// to a host that is not this machine."
        ),
        insecure_storage: bool = typer.Option(
            False,
            "--insecure-storage",
            help="Keep the secrets in a file readable only by you, not in the keyring.",
        ),
    ) -> None:
        from jobterm.commands.common import environment
        from jobterm.gitlab.login import LoginOptions, run_login

        if from_browser and host is None and not _names_a_browser(from_browser):
            host, from_browser = from_browser, ""  # `login --from-browser HOST`

        options = LoginOptions(
            host=host,
            username=username,
            password_stdin=password_stdin,
            cookie=cookie,
            from_browser=from_browser,
            token=token,
            ldap=ldap,
            ldap_provider=ldap_provider,
            ca_cert=ca_cert,
            insecure_http=insecure_http,
            insecure_storage=insecure_storage,
        )
        env = environment(ctx)
        result = run_login(env, options)
        from jobterm.core.safetext import visible

        name = result.host.name
        result.username = visible(result.username, one_line=True)  # the server's word
        if result.source:
            typer.echo(f"Read the session from {result.source}.")
        if result.web_session:
            typer.echo(
                f"Signed in to {name} as {result.username}; secrets kept in {result.storage}."
            )
        else:
            typer.echo(
                f"Signed in to {name} as {result.username} with a token; kept in {result.storage}."
            )
            typer.echo(
                "A token serves REST calls only: to open a job terminal, run "
                f"`jobterm login {name}` (password) or `jobterm login {name} --cookie`."
            )
