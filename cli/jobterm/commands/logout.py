"""`jobterm logout [HOST]`: sign out on the server and forget the host's secrets."""

from __future__ import annotations

import typer

from jobterm.completion.answers import complete_host


def register(app: typer.Typer) -> None:
    @app.command("logout")
    def logout(
        ctx: typer.Context,
        host: str | None = typer.Argument(
            None,
            metavar="HOST",
            help="The GitLab instance (default: GITLAB_HOST).",
            autocompletion=complete_host,
        ),
    ) -> None:
        """Sign out of HOST on the server and remove its secrets from this machine."""
        from jobterm.commands.common import environment
        from jobterm.completion.cache import forget_host
        from jobterm.gitlab.session import logout as do_logout

        env = environment(ctx)
        signed_out, problem = do_logout(env, host)
        forget_host(env.cache_dir, signed_out.name)  # the job ids and projects Tab offered
        if problem:
            env.stderr.write(
                f"jobterm: warning: could not sign out on {signed_out.name} ({problem}); "
                "removed the secrets here anyway\n"
            )
            typer.echo(f"Removed the secrets for {signed_out.name}.")
        else:
            typer.echo(f"Signed out of {signed_out.name} and removed its secrets.")
