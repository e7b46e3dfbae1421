"""The sandbox's job terminal against the spec (sections 4-6), with plain clients only."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import itertools
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from sandbox_ws import (
    BASE64,
    BINARY,
    Reader,
    TerminalSandbox,
    handshake,
    open_terminal,
    run_command,
    send,
    serving,
)
from util import process_gone, scaled

FIRST_JOB = 500
JOBS = 60
PING = 0.3

CONFIG: dict[str, Any] = {
    "jobs": [
        {"id": FIRST_JOB + i, "name": f"t{i}", "project": "demo/webapp", "pipeline": 1001}
        for i in range(JOBS)
    ],
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerminalSandbox]:
    workdir = tmp_path_factory.mktemp("terminal")
    with serving(CONFIG, "--ping-interval", str(PING), workdir=workdir) as server:
        yield server


_ids = itertools.count(FIRST_JOB)


@pytest.fixture
def job(srv: TerminalSandbox) -> Iterator[int]:
    """A running job of demo's nobody else uses; its terminal is gone when the test ends."""
    job_id = next(_ids)
    yield job_id
    srv.control("POST", f"/jobs/{job_id}/terminal/drop")
    srv.wait_detached(job_id)


@pytest.fixture
def demo(srv: TerminalSandbox) -> str:
    """A fresh web session of demo's (some tests sign sessions out)."""
    return srv.cookie_for("demo")


def refused(
    srv: TerminalSandbox, url: str, cookie: str | None, headers: dict[str, str] | None = None
) -> Any:
    response = handshake(url, cookie, headers=headers)
    assert "Traceback" not in response.text
    return response


# -- the handshake table -----------------------------------------------------------------------


def test_signed_in_owner_of_a_running_job_connects(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert ws.subprotocol == BINARY
        assert "hello-2" in run_command(ws, "echo hello-$((1+1))")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param("private", id="PRIVATE-TOKEN"),
        pytest.param("bearer", id="Authorization-Bearer"),
        pytest.param("query", id="private_token-query"),
        pytest.param("none", id="nothing"),
    ],
)
def test_without_a_session_the_answer_is_a_redirect_to_sign_in(
    srv: TerminalSandbox, job: int, headers: str
):
    token = srv.token("demo")
    url = srv.terminal_url(job)
    extra = {}
    if headers == "private":
        extra = {"PRIVATE-TOKEN": token}
    elif headers == "bearer":
        extra = {"Authorization": f"Bearer {token}"}
    elif headers == "query":
        url += f"?private_token={token}"
    response = refused(srv, url, None, headers=extra)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{srv.url}/users/sign_in"
    assert not srv.attached(job)


def test_expired_or_unknown_session_redirects(srv: TerminalSandbox, job: int):
    cookie = "_gitlab_session=0123456789abcdef0123456789abcdef"
    assert refused(srv, srv.terminal_url(job), cookie).status_code == 302


@pytest.mark.parametrize(
    ("job_id", "path", "user"),
    [
        pytest.param(104, None, "demo", id="pending"),
        pytest.param(105, None, "demo", id="finished"),
        pytest.param(103, None, "demo", id="not-the-users-job"),
        pytest.param(101, "demo/tools/cli", "demo", id="wrong-project"),
        pytest.param(107, None, "demo", id="runner-without-session-server"),
        pytest.param(108, None, "demo", id="shared-runner-without-terminal"),
        pytest.param(301, None, "demo", id="archived-project"),
        pytest.param(201, None, "bob", id="not-a-member"),
        pytest.param(99999, "demo/webapp", "demo", id="no-such-job"),
        pytest.param(101, "nobody/nothing", "demo", id="no-such-project"),
    ],
)
def test_no_terminal_for_this_user_and_job_is_404(
    srv: TerminalSandbox, job_id: int, path: str | None, user: str
):
    url = srv.terminal_url(job_id) if path is None else None
    if url is None:
        url = f"{srv.ws_url}/{path}/-/jobs/{job_id}/terminal.ws"
    response = refused(srv, url, srv.cookie_for(user))
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["demo/webapp/-/jobs/{big}", "{big}/-/jobs/101"])
def test_huge_ids_are_404_not_500(srv: TerminalSandbox, demo: str, path: str):
    path = path.format(big="9" * 5000)  # past Python's int() digit limit
    assert refused(srv, f"{srv.ws_url}/{path}/terminal.ws", demo).status_code == 404
    page = httpx.get(f"{srv.url}/{path}.json", headers={"Cookie": demo}, timeout=scaled(10))
    assert page.status_code == 404
    assert "error while answering" not in srv.info.stderr()


def test_origin_of_another_host_is_403(srv: TerminalSandbox, demo: str, job: int):
    response = refused(srv, srv.terminal_url(job), demo, {"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert not srv.attached(job)


def test_origin_of_the_same_host_is_accepted(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo, origin=srv.url) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == BINARY


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        pytest.param("http://127.0.0.1:1", 403, id="same-host-other-port"),
        pytest.param("http://localhost:{port}", 403, id="other-name-same-port"),
        pytest.param("null", 403, id="null"),
        pytest.param("HTTP://user@127.0.0.1:{port}/x", 101, id="userinfo-path-case"),
    ],
)
def test_origin_is_compared_as_gorilla_does(
    srv: TerminalSandbox, demo: str, job: int, origin: str, status: int
):
    """gorilla's checkSameOrigin: url.Parse(Origin).Host (no userinfo) equals Host, ASCII
    case folded; the port counts."""
    origin = origin.format(port=srv.url.rsplit(":", 1)[1])
    response = refused(srv, srv.terminal_url(job), demo, {"Origin": origin})
    assert response.status_code == status


def test_second_connection_to_the_same_job_is_500(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert run_command(ws, "echo one") == "one"
        assert refused(srv, srv.terminal_url(job), demo).status_code == 500
        assert run_command(ws, "echo still") == "still"  # the first one is unharmed


def test_unreachable_runner_is_500(srv: TerminalSandbox, demo: str, job: int):
    srv.control("PUT", f"/jobs/{job}/terminal/faults", {"runner_unreachable": True})
    assert refused(srv, srv.terminal_url(job), demo).status_code == 500


def test_plain_get_without_upgrade_is_rails_answer(srv: TerminalSandbox, demo: str, job: int):
    url = srv.terminal_url(job).replace("ws://", "http://")
    signed_in = httpx.get(url, headers={"Cookie": demo})
    assert signed_in.status_code == 404
    assert "Traceback" not in signed_in.text
    signed_out = httpx.get(url)
    assert signed_out.status_code == 302
    assert httpx.post(url, headers={"Cookie": demo}).status_code in (404, 405)
    assert not srv.attached(job)


@pytest.mark.parametrize(
    ("version", "key"),
    [
        pytest.param("8", base64.b64encode(os.urandom(16)).decode(), id="version-8"),
        pytest.param("13", "", id="no-key"),
        pytest.param("13", "not base64!", id="key-not-base64"),
        pytest.param("13", base64.b64encode(b"short").decode(), id="key-too-short"),
    ],
)
def test_bad_websocket_handshake_is_400(
    srv: TerminalSandbox, demo: str, job: int, version: str, key: str
):
    url = srv.terminal_url(job).replace("ws://", "http://")
    headers = {
        "Cookie": demo,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": version,
        "Sec-WebSocket-Key": key,
    }
    response = httpx.get(url, headers=headers)
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert not srv.attached(job)


# -- subprotocols and framing ----------------------------------------------------------------


@pytest.mark.parametrize("offered", [[BINARY, BASE64], [BASE64, BINARY]])
def test_binary_subprotocol_is_preferred_whatever_the_order(
    srv: TerminalSandbox, demo: str, job: int, offered: list[str]
):
    with open_terminal(srv.terminal_url(job), demo, offered) as ws:
        assert ws.subprotocol == BINARY


def test_base64_subprotocol_echoes_in_text_frames(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo, [BASE64, "other"]) as ws:
        assert ws.subprotocol == BASE64
        assert run_command(ws, "echo b64-$((2*3))") == "b64-6"  # Reader checks: text frames


def test_no_subprotocol_offered_is_accepted_unwrapped_binary(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo, None) as ws:
        assert ws.subprotocol is None
        assert run_command(ws, "echo raw-$((3*3))") == "raw-9"


def test_only_unknown_subprotocols_offered_is_accepted_unwrapped(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo, ["v2.k8s.io", "channel.k8s.io"]) as ws:
        assert ws.subprotocol is None
        assert run_command(ws, "echo k8s-$((2+2))") == "k8s-4"
    assert "overlap" not in srv.info.stderr()  # quietly, as Workhorse


def test_binary_input_in_text_frames_is_data_too(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        reader = Reader(ws)
        ws.send("echo text-$((4*4))\n")
        reader.until(b"text-16")


def _truncation(ws: Any, frame: bytes | str) -> str:
    reader = Reader(ws)
    send(ws, b"stty raw -echo; echo READ$((1))Y; head -c 32769 > f; stty sane; ")
    send(ws, b"echo COUNT $(tr -cd a < f | wc -c) $(tail -c 1 f) END\n")
    reader.until(b"READ1Y")
    ws.send(frame)
    send(ws, b"Z")
    return reader.until(b"END").decode().split("COUNT", 1)[1]


def test_input_frame_over_32k_delivers_exactly_32768_bytes(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert _truncation(ws, b"a" * 40000).split() == ["32768", "Z", "END"]


def test_base64_input_frame_is_truncated_by_decoded_size(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo, [BASE64]) as ws:
        frame = base64.b64encode(b"a" * 40000).decode()
        assert _truncation(ws, frame).split() == ["32768", "Z", "END"]


def test_invalid_base64_drops_the_connection(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo, [BASE64]) as ws:
        assert run_command(ws, "echo ok") == "ok"
        ws.send("this is *not* base64!")
        closed = Reader(ws).until_closed()
        assert closed.rcvd is None  # no Close frame: 1006
    srv.wait_detached(job)


def test_text_frame_of_raw_bytes_is_data_not_a_protocol_error(
    srv: TerminalSandbox, demo: str, job: int
):
    """gorilla does not check text frames for UTF-8: Workhorse passes the bytes on (no Close
    1007 from the server)."""
    from aiohttp import web

    if "decode_text" not in inspect.signature(web.WebSocketResponse).parameters:
        pytest.skip("this aiohttp always decodes text frames")
    with open_terminal(srv.terminal_url(job), demo) as ws:
        reader = Reader(ws)
        ws.send(b"echo raw-\xff-$((3*3))\n", text=True)
        reader.until(b"raw-\xff-9")


def test_message_over_the_size_limit_drops_without_close_frame(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert run_command(ws, "echo ok") == "ok"
        with contextlib.suppress(ConnectionClosed):  # may drop while the message is on its way
            ws.send(b"#" * (4 * 1024 * 1024 + 1))
        closed = Reader(ws).until_closed()
        assert closed.rcvd is None  # no Close 1009 either: 1006
    srv.wait_detached(job)


def test_base64_input_may_carry_line_breaks(srv: TerminalSandbox, demo: str, job: int):
    """Go's base64.StdEncoding (Workhorse) skips CR and LF, as MIME-wrapped base64 has them."""
    with open_terminal(srv.terminal_url(job), demo, [BASE64]) as ws:
        reader = Reader(ws)
        encoded = base64.b64encode(b"echo wrapped-$((2*3))\n").decode()
        ws.send(encoded[:8] + "\r\n" + encoded[8:16] + "\n" + encoded[16:])
        reader.until(b"wrapped-6")


def test_pty_starts_at_zero_by_zero(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert run_command(ws, "stty size") == "0 0"
        assert run_command(ws, "tty").startswith("/dev/pts/")


def test_each_connection_gets_a_new_shell(srv: TerminalSandbox, demo: str, job: int):
    pids = []
    for _ in range(2):
        with open_terminal(srv.terminal_url(job), demo) as ws:
            pids.append(run_command(ws, "echo $$"))
            run_command(ws, "export LEFT=over")
        srv.wait_detached(job)
    assert pids[0] != pids[1]


# -- how sessions end ------------------------------------------------------------------------


def test_shell_exit_drops_the_connection_without_close_frame(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        pid = int(run_command(ws, "echo $$"))
        send(ws, b"echo bye-$((5*5)); exit\n")
        reader = Reader(ws)
        closed = reader.until_closed()
        assert b"bye-25" in reader.output  # output before the exit is not lost
        assert closed.rcvd is None
        assert closed.sent is None
        assert ws.protocol.close_code == 1006
    assert process_gone(pid)
    srv.wait_detached(job)


def test_client_close_is_echoed_and_sends_eot_to_the_shell(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        pid = int(run_command(ws, "echo $$"))
        project_dir = run_command(ws, "pwd")
        reader = Reader(ws)
        send(ws, b"stty raw -echo; echo READ$((1))Y; head -c 1 | od -An -tx1 > eot.txt; exit\n")
        reader.until(b"READ1Y")
        ws.close()
        rcvd = ws.protocol.close_rcvd
        assert rcvd is not None
        assert rcvd.code == 1000
    assert process_gone(pid)
    assert Path(project_dir, "eot.txt").read_text().split() == ["04"]
    srv.wait_detached(job)


def test_client_close_code_is_echoed_as_gorilla_does(srv: TerminalSandbox, demo: str, job: int):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert run_command(ws, "echo x") == "x"
        ws.close(code=1001)  # a browser leaving the page
        rcvd = ws.protocol.close_rcvd
        assert rcvd is not None
        assert rcvd.code == 1001
    srv.wait_detached(job)


def test_client_close_at_an_empty_prompt_logs_the_shell_out(
    srv: TerminalSandbox, demo: str, job: int
):
    with open_terminal(srv.terminal_url(job), demo) as ws:
        home = Path(run_command(ws, "echo $HOME"))
        project_dir = Path(run_command(ws, "pwd"))
        # A login shell that reads EOF runs ~/.bash_logout; a killed one does not.
        (home / ".bash_logout").write_text(f'echo bye > "{project_dir}/logged-out"\n')
        try:
            pid = int(run_command(ws, "echo $$"))
            reader = Reader(ws)
            send(ws, b"PS1=P$((1))'> '\n")
            reader.until(b"P1> ")  # readline is waiting at an empty prompt
            ws.close()
            rcvd = ws.protocol.close_rcvd
            assert rcvd is not None
            assert rcvd.code == 1000
            assert process_gone(pid)
        finally:
            (home / ".bash_logout").unlink()
    assert (project_dir / "logged-out").read_text() == "bye\n"
    srv.wait_detached(job)


def test_sign_out_drops_the_terminal(srv: TerminalSandbox, job: int):
    cookie = srv.cookie_for("demo")
    with open_terminal(srv.terminal_url(job), cookie) as ws:
        pid = int(run_command(ws, "echo $$"))
        srv.sign_out(cookie)
        closed = Reader(ws).until_closed()
        assert closed.rcvd is None
    assert process_gone(pid)
    assert refused(srv, srv.terminal_url(job), cookie).status_code == 302


def test_expired_sessions_drop_the_terminal(srv: TerminalSandbox, job: int):
    with open_terminal(srv.terminal_url(job), srv.cookie_for("demo")) as ws:
        assert run_command(ws, "echo up") == "up"
        srv.control("POST", "/users/demo/expire-sessions", {})
        assert Reader(ws).until_closed().rcvd is None


@contextlib.asynccontextmanager
async def _no_autoping(url: str, cookie: str) -> AsyncIterator[Any]:
    """An aiohttp WebSocket to the terminal that shows Pings and never answers them itself
    (websockets, which the other tests use, answers every Ping)."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, protocols=[BINARY], headers={"Cookie": cookie}, autoping=False) as ws,
    ):
        yield ws


def test_pings_arrive_every_ping_interval(srv: TerminalSandbox, demo: str, job: int):
    import aiohttp

    async def count_pings() -> tuple[int, list[float]]:
        async with _no_autoping(srv.terminal_url(job), demo) as ws:
            stamps: list[float] = []
            while len(stamps) < 3:
                msg = await ws.receive(timeout=scaled(5))
                if msg.type == aiohttp.WSMsgType.PING:
                    assert msg.data == b""
                    stamps.append(time.monotonic())
            return len(stamps), stamps

    count, stamps = asyncio.run(count_pings())
    assert count == 3
    assert stamps[2] - stamps[0] >= PING  # periodic, not a burst


def test_pongs_are_not_enforced(srv: TerminalSandbox, demo: str, job: int):
    import aiohttp

    async def silent_client() -> bool:
        async with _no_autoping(srv.terminal_url(job), demo) as ws:
            await asyncio.sleep(PING * 4)  # never answers a ping
            await ws.send_bytes(b"echo alive-$((7*7))\n")
            output = b""
            while b"alive-49" not in output:
                msg = await ws.receive(timeout=scaled(5))
                if msg.type == aiohttp.WSMsgType.BINARY:
                    output += msg.data
            return True

    assert asyncio.run(silent_client())


# -- faults ------------------------------------------------------------------------------------


def test_fault_unknown_subprotocol(srv: TerminalSandbox, demo: str, job: int):
    srv.control("PUT", f"/jobs/{job}/terminal/faults", {"subprotocol": "v2.terminal.example"})
    with pytest.raises(InvalidHandshake):
        open_terminal(srv.terminal_url(job), demo).close()


def test_fault_text_frame_on_binary(srv: TerminalSandbox, demo: str, job: int):
    srv.control("PUT", f"/jobs/{job}/terminal/faults", {"text_on_binary": True})
    with open_terminal(srv.terminal_url(job), demo) as ws:
        send(ws, b"echo hi\n")
        assert isinstance(ws.recv(timeout=scaled(10)), str)


def test_fault_oversized_frame(srv: TerminalSandbox, demo: str, job: int):
    srv.control("PUT", f"/jobs/{job}/terminal/faults", {"oversized_frame": 2_000_000})
    with open_terminal(srv.terminal_url(job), demo, max_size=None) as ws:
        assert len(Reader(ws).frame()) == 2_000_000


def test_fault_drop_after_bytes(srv: TerminalSandbox, demo: str, job: int):
    srv.control("PUT", f"/jobs/{job}/terminal/faults", {"drop_after_bytes": 5000})
    with open_terminal(srv.terminal_url(job), demo) as ws:
        send(ws, b"head -c 100000 /dev/zero | tr '\\0' x\n")
        reader = Reader(ws)
        closed = reader.until_closed()
        assert closed.rcvd is None
        assert len(reader.output) == 5000


def test_fault_silent_server(srv: TerminalSandbox, demo: str, job: int):
    srv.control("PUT", f"/jobs/{job}/terminal/faults", {"silent": True})
    # A silent server does not answer the client's Close either: do not wait long for it.
    with open_terminal(srv.terminal_url(job), demo, close_timeout=0.2) as ws:
        send(ws, b"echo anything\n")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=PING * 4)  # no output, no ping in several ping intervals
        assert srv.attached(job)  # and the connection stays open


def test_bad_fault_settings_are_400(srv: TerminalSandbox):
    response = httpx.put(
        f"{srv.url}/-/sandbox/terminal/faults",
        json={"no_such_fault": 1},
        headers={"X-Sandbox-Token": srv.admin_token},
    )
    assert response.status_code == 400
    unauthorized = httpx.put(f"{srv.url}/-/sandbox/terminal/faults", json={})
    assert unauthorized.status_code == 401


def test_connection_closed_is_reported_by_the_plain_client(
    srv: TerminalSandbox, demo: str, job: int
):
    """Sanity check of the helpers: a drop from the control API is a 1006 as well."""
    with open_terminal(srv.terminal_url(job), demo) as ws:
        assert run_command(ws, "echo x") == "x"
        assert srv.control("POST", f"/jobs/{job}/terminal/drop")["dropped"] is True
        closed = Reader(ws).until_closed()
        assert isinstance(closed, ConnectionClosed)
        assert ws.protocol.close_code == 1006


def test_reauthorization_drops_a_terminal_whose_session_expired(tmp_path: Path):
    """Workhorse asks Rails again every few minutes; an expired session ends the terminal."""
    config = {
        "settings": {"reauthorize_interval": 0.2},
        "jobs": [{"id": 900, "name": "long", "script_seconds": None}],
    }
    with serving(config, workdir=tmp_path) as server:
        with open_terminal(server.terminal_url(900), server.cookie_for("demo")) as ws:
            assert run_command(ws, "echo alive") == "alive"
            time.sleep(0.5)  # a few re-authorizations pass while the session is good
            assert run_command(ws, "echo still") == "still"
            server.control("POST", "/clock", {"advance": 8 * 24 * 3600})  # > 7 days
            assert Reader(ws).until_closed().rcvd is None
        assert server.job(900)["status"] == "running"  # the job itself goes on


def test_slow_reader_loses_no_output(srv: TerminalSandbox, demo: str, job: int):
    """The server waits for a client that does not read (backpressure), then sends it all."""
    total = 3_000_000
    with open_terminal(srv.terminal_url(job), demo, max_queue=1) as ws:
        command = f"stty -echo; head -c {total} /dev/zero | tr '\\0' '\\101'; echo EN''D\n"
        send(ws, command.encode())
        time.sleep(1.0)  # read nothing meanwhile: the server must hold back, not buffer or drop
        reader = Reader(ws)
        output = reader.until(b"END", timeout=30)
    assert output.count(b"A") == total  # octal 101: no "A" in the typed line or the prompt


def test_client_vanishing_without_close_ends_the_shell(srv: TerminalSandbox, demo: str, job: int):
    import socket

    with open_terminal(srv.terminal_url(job), demo, close_timeout=0.2) as ws:
        pid = int(run_command(ws, "echo $$"))
        ws.socket.shutdown(socket.SHUT_RDWR)  # the TCP connection goes, no Close frame
    assert process_gone(pid)
    srv.wait_detached(job)
    with open_terminal(srv.terminal_url(job), demo) as again:  # the job is free again
        assert run_command(again, "echo back") == "back"
