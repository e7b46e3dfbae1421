"""TLS: a sandbox served over HTTPS with a certificate jobterm does not trust, and with one
from a custom CA that the user hands to jobterm (`jobterm login --ca-cert FILE`)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from fixtures_auth import auth_env_for, jobterm, login_stdin
from jobterm.gitlab.http import ssl_context, with_fallback_roots
from reliability import assert_no_secrets, secrets_of, start_session
from tls_certs import Certs, make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_sandbox(make_sandbox: Any, pair: tuple[Path, Path]) -> Any:
    sb = make_sandbox(None, "--tls-cert", str(pair[0]), "--tls-key", str(pair[1]))
    assert sb.url.startswith("https://127.0.0.1:")
    return sb


def test_untrusted_certificate_is_refused_with_one_line(make_sandbox, certs, tmp_path):
    sb = tls_sandbox(make_sandbox, certs.self_signed)
    env = auth_env_for(tmp_path / "user")
    result = jobterm(
        ["login", sb.url, "--username", "demo", "--password-stdin"],
        env,
        stdin=login_stdin(sb, "demo"),
    )
    assert result.returncode == 8, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "not trusted" in lines[0]
    assert "--ca-cert" in lines[0]
    assert "Traceback" not in result.stderr
    assert_no_secrets(result.stdout + result.stderr, [sb.user("demo")["password"]])


def test_custom_ca_signs_in_and_attaches_over_wss(make_sandbox, certs, tmp_path, spawn_jobterm):
    sb = tls_sandbox(make_sandbox, certs.signed)
    env = auth_env_for(tmp_path / "user", sb.url)
    result = jobterm(
        ["login", sb.url, "--username", "demo", "--password-stdin", "--ca-cert", str(certs.ca)],
        env,
        stdin=login_stdin(sb, "demo"),
    )
    assert result.returncode == 0, result.stderr
    run = start_session(spawn_jobterm, env, "--prepare")  # CI_SERVER_URL, from the REST API
    run.type_line('echo scheme-"${CI_SERVER_URL%%:*}"', "scheme-https")
    run.leave()
    assert_no_secrets(run.child.logfile_read.getvalue(), secrets_of(env, sb))
    ran = jobterm(["exec", "101", "-p", "demo/webapp", "--", "echo", "exec-over-wss"], env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "exec-over-wss\n"


def test_custom_ca_is_not_trusted_for_another_certificate(make_sandbox, certs, tmp_path):
    """The CA given for one host does not make a certificate it did not sign acceptable."""
    sb = tls_sandbox(make_sandbox, certs.self_signed)
    env = auth_env_for(tmp_path / "user")
    result = jobterm(
        ["login", sb.url, "--username", "demo", "--password-stdin", "--ca-cert", str(certs.ca)],
        env,
        stdin=login_stdin(sb, "demo"),
    )
    assert result.returncode == 8, result.stderr
    assert "not trusted" in result.stderr


def test_terminal_and_rest_say_the_same_of_an_untrusted_certificate(make_sandbox, certs):
    """Both clients (websockets for the terminal, httpx for REST) map a TLS failure through
    one helper: the terminal's line names the untrusted certificate and how to trust it."""
    import asyncio
    import ssl

    from jobterm.errors import ExitCode, NetworkError
    from jobterm.term.connection import TerminalConnection, TerminalTarget

    sb = tls_sandbox(make_sandbox, certs.self_signed)
    host = sb.url.removeprefix("https://")
    target = TerminalTarget(
        ws_url=f"wss://{host}/demo/webapp/-/jobs/101/terminal.ws",
        cookie_header="",
        ssl_context=ssl.create_default_context(),
        host_label=host,
        job_id=101,
    )
    with pytest.raises(NetworkError) as caught:
        asyncio.run(TerminalConnection.open(target))
    assert caught.value.exit_code == ExitCode.NETWORK
    assert caught.value.message.startswith(f"the TLS certificate of {host} is not trusted")
    assert f"jobterm login {host} --ca-cert FILE" in (caught.value.hint or "")


# -- where the default trust comes from ------------------------------------------------------


def _cas(context: ssl.SSLContext) -> int:
    return int(context.cert_store_stats()["x509_ca"])


def test_a_store_with_roots_of_its_own_gets_no_others(certs: Certs) -> None:
    """A store that holds a CA (the system's, a private one) is used as it is: certifi's
    bundle is not loaded beside it (it doubled the cost of trust on every https start)."""
    own = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    own.load_verify_locations(cafile=str(certs.ca))
    assert _cas(with_fallback_roots(own)) == 1


def test_an_empty_store_falls_back_to_certifi() -> None:
    """No CA in the store (python.org's Python on macOS, a container without
    ca-certificates): certifi's roots, so public GitLab instances still verify."""
    import certifi

    empty = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bundle = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bundle.load_verify_locations(cafile=certifi.where())
    assert _cas(with_fallback_roots(empty)) == _cas(bundle) > 0


def test_the_default_trust_is_the_system_store_when_it_has_roots() -> None:
    system = ssl.create_default_context()
    if not _cas(system):
        pytest.skip("this machine's system store holds no CA certificate")
    assert _cas(ssl_context(None, {})) == _cas(system)
