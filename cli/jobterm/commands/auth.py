"""`jobterm auth status`: which hosts you are signed in to, and whether that still works."""

from __future__ import annotations

import json

import typer

from jobterm.errors import ExitCode

NONE = "none"


def register(app: typer.Typer) -> None:
    auth = typer.Typer(
        name="auth",
        help="Inspect how you are signed in.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @auth.command("status")
    def status(
        ctx: typer.Context,
        host: str | None = typer.Argument(None, metavar="HOST", help="Only this host."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object for scripts."),
    ) -> None:
        """Show each host, its user, whether the session and token work, and where the secrets
        are kept (never the secrets). Exits 3 if any host needs signing in again."""
        from jobterm.commands.common import environment
        from jobterm.core.hosts import parse_host
        from jobterm.errors import AuthError
        from jobterm.gitlab.auth_status import host_status
        from jobterm.gitlab.config import load_config

        env = environment(ctx)
        config = load_config(env)
        names = sorted(config.hosts)
        if host is not None:
            wanted = parse_host(host).name
            if wanted not in config.hosts:
                raise AuthError(f"not signed in to {wanted}", f"run `jobterm login {wanted}`")
            names = [wanted]
        if not names:
            raise AuthError("not signed in to any GitLab host", "run `jobterm login HOST`")
        statuses = [host_status(env, config, name) for name in names]
        if as_json:
            typer.echo(json.dumps({"hosts": [vars(s) | {"ok": s.ok} for s in statuses]}, indent=2))
        else:
            for entry in statuses:
                typer.echo(_render(entry))
            if env.environ.get("GITLAB_TOKEN"):
                typer.echo("GITLAB_TOKEN is set: REST calls use it instead of a stored token.")
        if not all(s.ok for s in statuses):
            raise typer.Exit(int(ExitCode.AUTH))

    app.add_typer(auth)


def _render(entry: object) -> str:
    from jobterm.gitlab.auth_status import HostStatus

    assert isinstance(entry, HostStatus)
    title = entry.name + ("  (default)" if entry.default else "")
    session = entry.session
    if session == "expired":
        session += f"  (run `jobterm login {entry.name}`)"
    elif session == "none" and entry.token != NONE:
        session += "  (a token alone cannot open a job terminal)"
    rows = [
        ("url", entry.base_url),
        ("user", entry.username or "?"),
        ("session", session),
        ("token", entry.token),
        ("secrets", entry.storage),
    ]
    from jobterm.core.safetext import visible

    # The user name came from the server when signing in.
    return "\n".join([visible(title), *(f"  {k + ':':<9} {visible(str(v))}" for k, v in rows)])
