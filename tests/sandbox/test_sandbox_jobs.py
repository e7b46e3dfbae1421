"""Jobs with a life (spec section 7): the timed job life alone, then through the sandbox."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox_ws import (
    BINARY,
    Reader,
    TerminalSandbox,
    open_terminal,
    run_command,
    send,
    serving,
)
from util import process_gone, scaled

# -- the job life with a hand-driven clock -----------------------------------------------------


class FakeTerminal:
    def __init__(self) -> None:
        self.dropped: list[str] = []

    def drop(self, reason: str) -> None:
        self.dropped.append(reason)


@pytest.fixture
def life() -> Any:
    from jobterm.sandbox.config import build_state
    from jobterm.sandbox.lifecycle import TimedJobLife

    state = build_state(
        {
            "settings": {"session_timeout": 100},
            "jobs": [
                {"id": 700, "name": "timed", "script_seconds": 10},
                {"id": 701, "name": "queued", "status": "pending", "pending_seconds": 5},
                {"id": 702, "name": "red", "script_seconds": 10, "script_result": "failed"},
            ],
        }
    )
    clock = [0.0]
    state.clock = lambda: clock[0]
    timed = TimedJobLife(state)
    state.life = timed
    timed.adopt(0.0)
    return timed


def test_script_ends_after_script_seconds(life: Any) -> None:
    job = life.state.jobs[700]
    life.advance(9.9)
    assert job.status == "running"
    life.advance(10.0)
    assert job.status == "success"
    assert job.finished_at == 10.0
    assert life.state.jobs[702].status == "failed"  # its script_result


def test_pending_job_starts_after_pending_seconds(life: Any) -> None:
    job = life.state.jobs[701]
    life.advance(4.9)
    assert job.status == "pending"
    life.advance(5.0)
    assert job.status == "running"
    assert job.started_at == 5.0
    assert life.state.jobs[104].status == "pending"  # pending_seconds unset: until told


def test_next_deadline_is_the_earliest(life: Any) -> None:
    assert life.next_deadline() == 5.0
    life.advance(5.0)
    assert life.next_deadline() == 10.0


def test_attached_terminal_holds_the_job_until_session_timeout(life: Any) -> None:
    job, terminal = life.state.jobs[700], FakeTerminal()
    job.terminal = terminal
    life.advance(10.0)
    assert job.status == "running"
    assert job.held_for_terminal
    assert life.describe(job)["next_transition_at"] == 110.0
    life.advance(109.0)
    assert job.status == "running"
    assert terminal.dropped == []
    life.advance(110.0)
    assert job.status == "success"
    assert not job.held_for_terminal
    assert terminal.dropped == ["job success"]  # the runner ends the terminal


def test_detaching_finishes_a_held_job_at_once(life: Any) -> None:
    job = life.state.jobs[702]
    job.terminal = FakeTerminal()
    life.end_script(job, 3.0)
    assert job.held_for_terminal
    job.terminal = None
    life.detached(job, 4.0)
    assert job.status == "failed"
    assert job.finished_at == 4.0


def test_detaching_a_job_that_is_not_held_changes_nothing(life: Any) -> None:
    job = life.state.jobs[700]
    life.detached(job, 1.0)
    assert job.status == "running"


def test_cancel_drops_the_terminal(life: Any) -> None:
    job, terminal = life.state.jobs[700], FakeTerminal()
    job.terminal = terminal
    life.finish(job, "canceled", 2.0)
    assert job.status == "canceled"
    assert terminal.dropped == ["job canceled"]
    life.advance(1000.0)
    assert job.status == "canceled"


def test_any_final_status_drops_the_terminal(life: Any) -> None:
    job, terminal = life.state.jobs[700], FakeTerminal()
    job.terminal = terminal
    life.state.set_job_status(job, "failed", 1.0)  # e.g. REST, not through the life
    assert terminal.dropped == ["job failed"]


def test_a_retried_job_gets_a_life_too(life: Any) -> None:
    state = life.state
    clone = state.retry_job(state.jobs[105], state.user("demo"), 0.0)
    clone.pending_seconds = 1.0
    life.advance(1.0)
    assert clone.status == "running"


@pytest.mark.parametrize("steps", range(4))
def test_the_driver_stops_however_a_change_lines_up_with_the_stop(life: Any, steps: int) -> None:
    """A job changes just as the sandbox stops: stop() still returns, at once.

    `steps` loop steps pass between the change and the stop, which covers the step in which
    the driver's wait both finishes and is cancelled (a cancel Python < 3.12 can lose)."""
    from jobterm.sandbox.lifecycle import LifeDriver

    async def change_then_stop() -> bool:
        driver = LifeDriver(life)
        driver.start()
        await asyncio.sleep(0.05)  # the driver now waits for a change or a deadline
        life.wake()
        for _ in range(steps):
            await asyncio.sleep(0)
        stopping = asyncio.ensure_future(driver.stop())
        done, _ = await asyncio.wait({stopping}, timeout=2.0)
        return stopping in done

    assert asyncio.run(change_then_stop()), "LifeDriver.stop() did not return"


# -- through the sandbox -----------------------------------------------------------------------

FOREVER = "forever"
CONFIG: dict[str, Any] = {
    "jobs": [
        {"id": 801, "name": "held", "script_seconds": FOREVER},
        {"id": 802, "name": "short", "script_seconds": 0.3},
        {"id": 803, "name": "short-red", "script_seconds": 0.3, "script_result": "failed"},
        {"id": 804, "name": "queued", "status": "pending", "pending_seconds": 0.3},
        {"id": 805, "name": "cancel-me", "script_seconds": FOREVER},
        {
            "id": 806,
            "name": "env",
            "stage": "deploy",
            "ref": "feature/x",
            "variables": {"DEPLOY_TARGET": "staging"},
            "script_seconds": FOREVER,
        },
        {"id": 807, "name": "other-dir", "script_seconds": FOREVER},
        {"id": 808, "name": "timeout", "script_seconds": FOREVER},
        {"id": 809, "name": "dash", "shell": ["dash"], "script_seconds": FOREVER},
        {"id": 810, "name": "busybox", "shell": ["busybox", "sh"], "script_seconds": FOREVER},
        {"id": 811, "name": "held-exit", "script_seconds": FOREVER},
    ]
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerminalSandbox]:
    workdir = tmp_path_factory.mktemp("jobs")
    with serving(CONFIG, "--session-timeout", "1.5", workdir=workdir) as server:
        yield server


@pytest.fixture
def demo(srv: TerminalSandbox) -> str:
    return srv.cookie_for("demo")


def rest_job(srv: TerminalSandbox, job_id: int) -> dict[str, Any]:
    response = httpx.get(
        f"{srv.url}/api/v4/projects/1/jobs/{job_id}",
        headers={"PRIVATE-TOKEN": srv.token("demo")},
        timeout=scaled(10),
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_script_ends_by_itself(srv: TerminalSandbox) -> None:
    srv.wait_status(802, "success")
    srv.wait_status(803, "failed")
    assert rest_job(srv, 802)["finished_at"] is not None


def test_pending_job_starts_by_itself(srv: TerminalSandbox) -> None:
    srv.wait_status(804, "running")
    assert rest_job(srv, 804)["started_at"] is not None


def test_job_is_held_while_attached_and_finishes_on_detach(srv: TerminalSandbox, demo: str) -> None:
    with open_terminal(srv.terminal_url(801), demo) as ws:
        srv.control("POST", "/jobs/801/end-script", {"status": "failed"})
        job = srv.job(801)
        assert job["held_for_terminal"] is True
        assert job["terminal_attached"] is True
        assert job["status"] == "running"
        assert rest_job(srv, 801)["status"] == "running"
        assert run_command(ws, "echo still-here") == "still-here"  # the terminal goes on
    # Finished by the time the Close was echoed: a client asking right away sees the outcome.
    job = srv.job(801)
    assert job["status"] == "failed"
    assert job["held_for_terminal"] is False
    assert job["terminal_attached"] is False


def test_held_job_is_finished_when_the_shell_exit_drops_the_terminal(
    srv: TerminalSandbox, demo: str
) -> None:
    with open_terminal(srv.terminal_url(811), demo) as ws:
        srv.control("POST", "/jobs/811/end-script")
        send(ws, b"exit\n")
        assert Reader(ws).until_closed().rcvd is None
        assert srv.job(811)["status"] == "success"  # already, when the client sees the drop


def test_held_job_finishes_after_session_timeout_and_drops_the_terminal(
    srv: TerminalSandbox, demo: str
) -> None:
    with open_terminal(srv.terminal_url(808), demo) as ws:
        assert run_command(ws, "echo up") == "up"
        srv.control("POST", "/jobs/808/end-script")
        assert srv.job(808)["held_for_terminal"] is True
        closed = Reader(ws).until_closed(timeout=10)
        assert closed.rcvd is None  # dropped, no Close frame
    assert srv.job(808)["status"] == "success"


def test_canceling_a_job_drops_its_terminal(srv: TerminalSandbox, demo: str) -> None:
    with open_terminal(srv.terminal_url(805), demo) as ws:
        pid = int(run_command(ws, "echo $$"))
        response = httpx.post(
            f"{srv.url}/api/v4/projects/1/jobs/805/cancel",
            headers={"PRIVATE-TOKEN": srv.token("demo")},
            timeout=scaled(10),
        )
        assert response.status_code == 201, response.text
        assert Reader(ws).until_closed().rcvd is None
    assert srv.job(805)["status"] == "canceled"
    assert srv.job(805)["terminal_attached"] is False
    assert process_gone(pid)


def test_dash_job_shell(srv: TerminalSandbox, demo: str) -> None:
    with open_terminal(srv.terminal_url(809), demo, [BINARY]) as ws:
        assert run_command(ws, "stty size") == "0 0"
        assert run_command(ws, "ps -o comm= -p $$") == "dash"


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox is not installed")
def test_busybox_job_shell(srv: TerminalSandbox, demo: str) -> None:
    with open_terminal(srv.terminal_url(810), demo) as ws:
        assert run_command(ws, 'basename "$(readlink /proc/$$/exe)"') == "busybox"


def test_stopping_the_sandbox_ends_every_shell(tmp_path: Path) -> None:
    """SIGTERM: attached shells and what they started in the background all end."""
    with serving(None, workdir=tmp_path) as srv:
        cookie = srv.cookie_for("demo")
        with open_terminal(srv.terminal_url(101), cookie) as ws:
            shell = int(run_command(ws, "echo $$"))
            # (interactive bash prints "[1] <pid>" too: the last line is echo's)
            background = int(run_command(ws, "sleep 600 & echo $!").splitlines()[-1])
            # A daemon that left the shell's session and parent, as ssh-agent does.
            daemon = int(run_command(ws, "sh -c 'setsid sleep 601 & echo $!'"))
            srv.info.proc.send_signal(signal.SIGTERM)
            assert Reader(ws).until_closed().rcvd is None
        assert srv.info.proc.wait(scaled(10)) == 0
    assert process_gone(shell)
    assert process_gone(background)
    assert process_gone(daemon)


def test_a_second_ctrl_c_does_not_cut_the_cleanup_short(tmp_path: Path) -> None:
    """An impatient user presses Ctrl-C twice: the shells still all end."""
    with serving(None, workdir=tmp_path) as srv:
        with open_terminal(srv.terminal_url(101), srv.cookie_for("demo")) as ws:
            # The shell ignores SIGHUP: only the SIGKILL KILL_GRACE later ends it and its job.
            stubborn = int(run_command(ws, "trap '' HUP; sleep 602 & echo $!").split()[-1])
            srv.info.proc.send_signal(signal.SIGINT)
            time.sleep(0.1)
            srv.info.proc.send_signal(signal.SIGINT)
            assert Reader(ws).until_closed().rcvd is None
        assert srv.info.proc.wait(scaled(10)) == 0
    assert process_gone(stubborn)
