"""`jobterm debug`'s decisions, fed events by hand: every race ends with its own message and
exit code; the log's facts and the user's keys hand the terminal over at the right time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.debugflow import (
    HANDSHAKE_RETRY,
    CancelJob,
    Connect,
    DebugFlow,
    Finish,
    FlowEvent,
    HandOver,
    JobStatus,
    Leave,
    LogFact,
    LogUnavailable,
    Phase,
    Say,
    Settings,
    ShellEnded,
    ShellKey,
    TerminalDropped,
    TerminalOpened,
    TerminalRefused,
    banner,
)
from jobterm.core.escape import ATTACH_ACTIONS, Action, Command, Data, EscapeParser
from jobterm.core.joblog import Executor, JobLogReader, ScriptEnded, Summary, TerminalHeld
from jobterm.errors import ExitCode


def flow(**settings: object) -> DebugFlow:
    return DebugFlow(Settings(job_id=7, started=100.0, **settings), Summary())  # type: ignore[arg-type]


def finish_of(actions: list[object]) -> Finish:
    found = [a for a in actions if isinstance(a, Finish)]
    assert len(found) == 1, actions
    return found[0]


def assert_finishes(actions: list[object], code: ExitCode, said: str) -> Finish:
    """The actions end the flow once, with `code` and a message that contains `said`."""
    done = finish_of(actions)
    assert done.code == code
    assert said in done.message
    return done


def test_the_happy_path_holds_then_hands_over_then_waits_for_the_end() -> None:
    f = flow()
    assert f.start() == [Connect(0.0)]
    assert f.feed(TerminalRefused(404, 100.1)) == [Connect(HANDSHAKE_RETRY)]
    assert f.feed(TerminalOpened(100.3)) == []
    assert f.phase is Phase.WAITING
    f.summary.last_command, f.summary.last_output = "make test", "make: *** Error 2"
    f.summary.terminal_held = "30m0s"
    actions = f.feed(LogFact(TerminalHeld("30m0s")))
    assert isinstance(actions[0], HandOver)
    assert "`make test`: make: *** Error 2" in actions[0].banner
    assert "30m0s" in actions[0].banner
    assert f.feed(JobStatus("running", 120.0)) == []  # the shell is the user's now
    assert f.feed(ShellEnded()) == [Finish(None, wait_final=True)]
    assert f.feed(JobStatus("failed", 130.0)) == []  # done


def test_the_script_ending_before_the_terminal_opens() -> None:
    f = flow()
    f.start()
    f.feed(TerminalRefused(404, 100.5))
    done = assert_finishes(
        f.feed(JobStatus("failed", 103.0)),
        ExitCode.SCRIPT_ENDED_FIRST,
        "finished (failed) 3 s after it started, before a terminal could attach",
    )
    assert "GitLab holds a job only for a terminal attached before its script ends" in done.message


def test_no_session_server_after_the_bounded_wait() -> None:
    f = flow(session_wait=5.0)
    f.start()
    assert f.feed(TerminalRefused(404, 104.0)) == [Connect(HANDSHAKE_RETRY)]
    done = assert_finishes(
        f.feed(TerminalRefused(404, 105.1)), ExitCode.FORBIDDEN, "no session server"
    )
    assert "[session_server]" in (done.hint or "")


def test_another_terminal_holds_the_job() -> None:
    f = flow(session_wait=1.0)
    f.start()
    assert_finishes(
        f.feed(TerminalRefused(500, 102.0)), ExitCode.BUSY, "another terminal is attached to job 7"
    )


def test_the_session_expires_mid_wait() -> None:
    f = flow()
    f.start()
    f.feed(TerminalOpened(100.2))
    assert f.feed(TerminalDropped(150.0)) == [
        Say("the terminal connection dropped; opening it again"),
        Connect(0.0),
    ]
    assert_finishes(
        f.feed(TerminalRefused(302, 150.1)),
        ExitCode.AUTH,
        "session expired while waiting for job 7's terminal",
    )


def test_the_docker_executor_warns_then_says_what_happened() -> None:
    f = flow()
    f.start()
    f.feed(TerminalOpened(100.2))
    f.summary.executor = "docker"
    warned = f.feed(LogFact(Executor("docker")))
    assert warned == [
        Say(
            "this job uses the docker executor: its shell ends with the script; press ~s to "
            "get a shell now"
        )
    ]
    assert f.feed(LogFact(Executor("docker"))) == []  # once
    f.summary.script_ended = True
    f.feed(LogFact(ScriptEnded()))
    done = finish_of(f.feed(TerminalDropped(110.0)))
    assert (done.code, done.wait_final) == (None, True)
    assert "shell ended with its script" in done.message


def test_docker_known_before_the_terminal_opens_warns_on_opening() -> None:
    f = flow()
    f.start()
    f.summary.executor = "docker"
    assert f.feed(LogFact(Executor("docker"))) == []
    assert isinstance(f.feed(TerminalOpened(100.2))[0], Say)


def test_shell_key_and_shell_now_hand_over_early() -> None:
    f = flow()
    f.start()
    f.feed(TerminalOpened(100.2))
    actions = f.feed(ShellKey())
    assert isinstance(actions[0], HandOver)
    assert "still running" in actions[0].banner
    early = flow(shell_now=True)
    early.start()
    assert isinstance(early.feed(TerminalOpened(100.2))[0], HandOver)


def test_exec_mode_waits_for_the_hold_whatever_the_keys() -> None:
    f = flow(exec_mode=True)
    f.start()
    f.feed(TerminalOpened(100.2))
    assert f.feed(ShellKey()) == []
    f.summary.terminal_held = "30m0s"
    assert isinstance(f.feed(LogFact(TerminalHeld("30m0s")))[0], HandOver)


def test_ctrl_c_and_leaving_at_each_stage() -> None:
    for opened in (False, True):
        f = flow()
        f.start()
        if opened:
            f.feed(TerminalOpened(100.2))
        assert_finishes(
            f.feed(Leave(interrupted=True)), ExitCode.INTERRUPTED, "runs on without a terminal"
        )
    f = flow(cancel_on_interrupt=True)
    f.start()
    actions = f.feed(Leave(interrupted=True))
    assert actions[0] == CancelJob()
    assert finish_of(actions).message == "cancelled job 7"
    f = flow()
    f.start()
    assert finish_of(f.feed(Leave(interrupted=False))).code == ExitCode.OK
    shell = flow(shell_now=True)
    shell.start()
    shell.feed(TerminalOpened(100.2))
    assert shell.feed(Leave(interrupted=True)) == []  # in the shell Ctrl-C is the job's


def test_an_unavailable_log_is_said_once() -> None:
    f = flow()
    f.start()
    told = f.feed(LogUnavailable("HTTP 500"))
    assert told == [
        Say("the job's log is unavailable (HTTP 500); still waiting; ~s opens the shell now")
    ]
    assert f.feed(LogUnavailable("HTTP 500")) == []


def test_a_job_that_finishes_while_waiting_without_holding() -> None:
    f = flow()
    f.start()
    f.feed(TerminalOpened(100.2))
    done = finish_of(f.feed(JobStatus("canceled", 120.0)))
    assert "finished (canceled) without waiting for the terminal" in done.message


def test_the_banner_is_one_line_per_fact_and_flat() -> None:
    summary = Summary(last_command="make\ttest", last_output="a\rb  c", terminal_held="30m0s")
    text = banner(9, summary, "~")
    assert text.splitlines()[0] == "job 9's script ended after `make test`: a b c"
    assert "(exit or ~.) or 30m0s pass" in text
    assert banner(9, Summary(), "").endswith("leave with exit")  # no escapes


@given(
    st.lists(
        st.one_of(
            st.builds(TerminalOpened, st.floats(100, 200)),
            st.builds(TerminalRefused, st.sampled_from([302, 404, 500]), st.floats(100, 200)),
            st.builds(TerminalDropped, st.floats(100, 200)),
            st.builds(
                JobStatus, st.sampled_from(["running", "failed", "success"]), st.floats(100, 200)
            ),
            st.just(ShellKey()),
            st.builds(Leave, st.booleans()),
            st.just(ShellEnded()),
            st.just(LogFact(TerminalHeld("1m0s"))),
            st.just(LogFact(Executor("docker"))),
        ),
        max_size=30,
    )
)
def test_any_events_finish_at_most_once_and_hand_over_at_most_once(events: list[FlowEvent]) -> None:
    f = flow()
    actions = f.start()
    for event in events:
        actions += f.feed(event)
    assert sum(isinstance(a, Finish) for a in actions) <= 1
    assert sum(isinstance(a, HandOver) for a in actions) <= 1
    if any(isinstance(a, Finish) for a in actions):
        assert f.phase is Phase.DONE
        assert isinstance(actions[-1], Finish)


def test_shell_key_is_an_escape_only_where_enabled() -> None:
    assert EscapeParser().feed(b"~s") == [Data(b"~s")]  # attach: typed through
    debug = EscapeParser(actions=ATTACH_ACTIONS | {Action.SHELL})
    assert debug.feed(b"~s") == [Command(Action.SHELL)]
    assert debug.feed(b"x~s\n~s") == [Data(b"x~s\n"), Command(Action.SHELL)]


def test_the_flow_reads_the_same_summary_as_the_log_reader() -> None:
    reader = JobLogReader()
    reader.feed(b"\x1b[32;1m$ false\x1b[0;m\n")
    f = DebugFlow(Settings(job_id=1, started=0.0), reader.summary)
    f.summary.terminal_held = "30m0s"
    assert banner(1, f.summary, "~").startswith("job 1's script ended after `false`")


def test_rest_refusing_the_session_finishes_with_auth() -> None:
    from jobterm.core.debugflow import SignedOut

    f = flow()
    f.start()
    f.feed(TerminalOpened(100.2))
    assert_finishes(
        f.feed(SignedOut()), ExitCode.AUTH, "expired while waiting for job 7's terminal"
    )
