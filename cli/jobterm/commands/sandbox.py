"""`jobterm sandbox`: serve the built-in GitLab-compatible instance on 127.0.0.1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jobterm.commands.common import duration_option

if TYPE_CHECKING:
    import ssl

    from jobterm.sandbox.app import Sandbox

HELP = """\
Serve a sandbox GitLab on 127.0.0.1, to try jobterm and test scripts against.

It answers like a real GitLab instance for everything jobterm uses: web sign-in (password,
two-factor, email verification, LDAP, remember-me), the REST API (/api/v4) and the job
terminal WebSocket, with real shells in PTYs. It prints its URL and the credentials of its
users, serves until Ctrl-C (or SIGTERM, or SIGHUP when its terminal closes), then ends
every shell it started.

With --json it prints one line, one JSON object: url, admin_token (for the /-/sandbox/
control API, header X-Sandbox-Token), users (username, password, token, totp_secret and
recovery_codes for two-factor users, verification_code for email verification), projects
and jobs (id, name, project, status, user, web_url).

\b
Default users (password = <name>-password):
  demo   runs most jobs      alice  two-factor (TOTP)   erin  email verification
  lee    LDAP only           bob    owns job 103
Jobs in demo/webapp: 101 build, 102 test:dash (dash), 103 deploy (bob's),
  104 lint (pending), 105 unit (success), 106 e2e (failed), 107 package (runner without a
  session server), 108 shared (instance runner), 109 alice:build; 201 in demo/tools/cli;
  301 in demo/legacy (archived).

"""


def register(app: typer.Typer) -> None:
    from jobterm.sandbox.format_help import FORMAT_HELP

    app.command("sandbox", help=HELP + FORMAT_HELP)(sandbox)


def sandbox(
    port: int = typer.Option(8080, "--port", "-p", help="Port on 127.0.0.1; 0 picks a free one."),
    config: Path | None = typer.Option(
        None, "--config", "-c", metavar="FILE", help="TOML file changing the defaults (below)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line for scripts."),
    ping_interval: float | None = duration_option(
        None, "--ping-interval", "WebSocket Ping period (default 30)."
    ),
    session_timeout: float | None = duration_option(
        None,
        "--session-timeout",
        "How long a finished job waits for an attached terminal (default 1800).",
        allow_zero=True,
    ),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", metavar="FILE", help="Serve HTTPS with this PEM certificate (chain)."
    ),
    tls_key: Path | None = typer.Option(
        None, "--tls-key", metavar="FILE", help="The PEM private key of --tls-cert."
    ),
) -> None:
    import asyncio
    import time

    from jobterm.errors import UsageError
    from jobterm.sandbox.app import serve
    from jobterm.sandbox.config import build_state, load_config

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port number", "use 0-65535 (0: a free port)")
    settings: dict[str, Any] = {}
    data = load_config(config) if config is not None else {}
    if ping_interval is not None:
        settings["ping_interval"] = ping_interval
    if session_timeout is not None:
        settings["session_timeout"] = session_timeout
    if settings:
        data["settings"] = {**data.get("settings", {}), **settings}
    state = build_state(data, now=time.time())
    announce = _announce_json if as_json else _announce_text
    asyncio.run(serve(state, port, announce, _tls_context(tls_cert, tls_key)))


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """A server TLS context from --tls-cert/--tls-key (both or neither)."""
    import ssl

    from jobterm.errors import UsageError

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together", "pass both PEM files")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use {cert} / {key} for TLS: {exc}", "pass PEM files") from None
    return context


def _announce_json(sandbox: Sandbox) -> None:
    from jobterm.sandbox.control import summary

    sys.stdout.write(json.dumps(summary(sandbox.state)) + "\n")
    sys.stdout.flush()


def _announce_text(sandbox: Sandbox) -> None:
    state = sandbox.state
    lines = [f"jobterm sandbox: a GitLab-compatible instance at {sandbox.url}", "", "Users:"]
    for user in state.users.values():
        extra = []
        if user.totp_secret:
            extra.append(f"TOTP secret {user.totp_secret}")
        if user.email_verification:
            extra.append(f"email code {user.verification_code}")
        if user.ldap:
            extra.append("LDAP")
        note = f"  ({'; '.join(extra)})" if extra else ""
        lines.append(f"  {user.username:<6} password {user.password:<16} token {user.token}{note}")
    lines += ["", "Jobs:"]
    for job in sorted(state.jobs.values(), key=lambda j: j.id):
        lines.append(f"  {job.id:<4} {job.status:<8} {job.user:<6} {state.job_web_url(job)}")
    first = next((j for j in sorted(state.jobs.values(), key=lambda j: j.id)), None)
    lines += ["", f"Try: jobterm login {sandbox.url} -u demo   (password demo-password)"]
    if first is not None:
        lines.append(f"then: jobterm attach {state.job_web_url(first)}")
    lines.append("Ctrl-C stops the sandbox.")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
