"""core.watchflow: which jobs of a pipeline are armed, held, released and handed over."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core import watchflow as f

SCRIPT = ("make", "make test")


def view(job_id: int, status: str = "running", **more: object) -> f.JobView:
    values: dict[str, object] = {"name": f"job{job_id}", "stage": "test", "mine": True}
    values.update(more)
    return f.JobView(job_id, status=status, **values)  # type: ignore[arg-type]


def held(last: str | None = "make test", sections: tuple[str, ...] = ()) -> f.LogFacts:
    return f.LogFacts("shell", True, True, last, sections)


def armed(flow: f.WatchFlow, *views: f.JobView, now: float = 0.0) -> list[f.Action]:
    actions = flow.feed(f.Jobs(now, views))
    for v in views:
        actions += flow.feed(f.Opened(v.id))
    return actions


@pytest.mark.parametrize(
    ("facts", "script", "failed"),
    [
        (held("make"), SCRIPT, True),  # stopped before its last line
        (held("make test"), SCRIPT, None),  # its last line ran: cannot be told
        (held("make test", (f.ON_FAILURE,)), SCRIPT, True),
        (held("make", (f.ON_SUCCESS,)), SCRIPT, False),  # the runner's word wins
        (held("make"), None, None),  # no script known: never guessed
        (held("make"), (), None),
        (held(None), SCRIPT, None),  # nothing echoed yet
        # a command of several lines, echoed by the runner by its first line
        (held("make test # collapsed multi-line command"), ("make test\nmore lines",), None),
        (held("make # collapsed multi-line command"), ("make\nx", "make test"), True),
    ],
)
def test_verdict(facts, script, failed):
    assert f.verdict(facts, script)[0] is failed


def test_a_running_job_of_mine_is_armed_and_a_failure_is_held_for_the_user():
    flow = f.WatchFlow(f.Settings())
    flow.feed(f.Scripts({"job1": SCRIPT}))
    assert flow.feed(f.Jobs(0.0, (view(1),))) == [f.Connect(1)]
    assert flow.feed(f.Opened(1)) == []
    assert flow.feed(f.Log(1, f.LogFacts("shell", False, False, "make"))) == []
    actions = flow.feed(f.Log(1, held("make")))
    assert [type(a) for a in actions] == [f.Failed]
    assert flow.tracks[1].phase is f.Phase.KEPT
    assert flow.feed(f.Tick(10_000.0)) == []  # a failure is never released by time
    assert flow.feed(f.Done(1)) == [f.Release(1)]


def test_a_success_is_released_at_once():
    flow = f.WatchFlow(f.Settings())
    armed(flow, view(1))
    assert flow.feed(f.Log(1, held("make", (f.ON_SUCCESS,)))) == [f.Release(1)]


def test_an_unknown_result_is_kept_for_keep_unknown_then_released():
    flow = f.WatchFlow(f.Settings(keep_unknown=5.0))
    flow.feed(f.Scripts({"job1": SCRIPT}))
    armed(flow, view(1), now=100.0)
    assert flow.feed(f.Log(1, held("make test"))) == []
    assert flow.feed(f.Tick(104.9)) == []
    assert flow.feed(f.Tick(105.0)) == [f.Release(1)]
    assert "could not be told" in flow.tracks[1].note


def test_the_runners_line_counts_only_after_the_script():
    """A script that prints "Terminal is connected …" itself does not make a hold."""
    flow = f.WatchFlow(f.Settings())
    armed(flow, view(1))
    assert flow.feed(f.Log(1, f.LogFacts("shell", False, True, "make"))) == []
    assert flow.tracks[1].phase is f.Phase.ARMED


@pytest.mark.parametrize(
    ("job", "why"),
    [
        (view(1, mine=False), "another user's job"),
        (view(1, name="deploy"), "not in --jobs"),
    ],
)
def test_jobs_that_cannot_be_held_say_why_and_are_never_connected(job, why):
    flow = f.WatchFlow(f.Settings(patterns=("test*", "job*")))
    assert flow.feed(f.Jobs(0.0, (job,))) == []
    assert why in flow.tracks[1].note


def test_the_docker_executor_is_released_and_said():
    flow = f.WatchFlow(f.Settings())
    armed(flow, view(1))
    assert flow.feed(f.Log(1, f.LogFacts("docker", False, False, None))) == [f.Release(1)]
    assert "docker executor" in flow.tracks[1].note


def test_a_refused_handshake_is_tried_again_until_final():
    flow = f.WatchFlow(f.Settings())
    flow.feed(f.Jobs(0.0, (view(1),)))
    assert flow.feed(f.Refused(1, "no terminal", final=False)) == [f.Connect(1)]
    assert flow.feed(f.Refused(1, "no terminal", final=True)) == []
    assert flow.tracks[1].note == "can't hold: no terminal"


def test_max_held_bounds_the_connections_and_frees_a_slot_on_release():
    flow = f.WatchFlow(f.Settings(max_held=2))
    actions = flow.feed(f.Jobs(0.0, tuple(view(n) for n in (1, 2, 3))))
    assert actions == [f.Connect(1), f.Connect(2)]
    assert "--max-held 2" in flow.tracks[3].note
    for n in (1, 2):
        flow.feed(f.Opened(n))
    assert flow.feed(f.Log(1, held("x", (f.ON_SUCCESS,)))) == [f.Release(1), f.Connect(3)]


def test_finish_waits_for_every_held_job_and_follows_the_pipeline():
    flow = f.WatchFlow(f.Settings())
    flow.feed(f.Scripts({"job1": SCRIPT}))
    armed(flow, view(1))
    flow.feed(f.Log(1, held("make")))
    assert flow.feed(f.Jobs(1.0, (view(1),), "failed")) == []  # still held: not yet
    assert flow.feed(f.Done(1)) == [f.Release(1), f.Finish(1)]
    assert flow.feed(f.Jobs(2.0, (view(1, "failed"),), "failed")) == []  # said once
    ok = f.WatchFlow(f.Settings())
    assert ok.feed(f.Jobs(0.0, (view(1, "success"),), "success")) == [f.Finish(0)]


EVENTS = st.one_of(
    st.builds(
        lambda n, s: f.Jobs(0.0, (view(n, s),)),
        st.integers(1, 3),
        st.sampled_from(["pending", "running", "success", "failed"]),
    ),
    st.builds(f.Opened, st.integers(1, 3)),
    st.builds(f.Dropped, st.integers(1, 3)),
    st.builds(f.Done, st.integers(1, 3)),
    st.builds(
        lambda n, last: f.Log(n, held(last)),
        st.integers(1, 3),
        st.sampled_from(["make", "make test", None]),
    ),
    st.builds(f.Tick, st.floats(0, 100)),
)


@given(st.lists(EVENTS, max_size=40))
def test_never_more_connections_than_max_held_and_never_a_failure_released_by_time(events):
    flow = f.WatchFlow(f.Settings(max_held=2, keep_unknown=1.0))
    flow.feed(f.Scripts({f"job{n}": SCRIPT for n in (1, 2, 3)}))
    open_now: set[int] = set()
    for event in events:
        actions = flow.feed(event)
        for action in actions:
            if isinstance(action, f.Connect):
                open_now.add(action.job_id)
            elif isinstance(action, f.Release):
                track = flow.tracks[action.job_id]
                assert not track.note.startswith("held: failed"), track
                open_now.discard(action.job_id)
        busy = [
            t
            for t in flow.tracks.values()
            if t.phase in (f.Phase.ARMING, f.Phase.ARMED, f.Phase.KEPT)
        ]
        assert len(busy) <= 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m0s", 1800.0),
        ("1h0m0s", 3600.0),
        ("45s", 45.0),
        ("1h2m5s", 3725.0),
        ("", None),
        ("30m", 1800.0),
        ("99hours", None),
        ("m0s", None),
    ],
)
def test_the_runners_timeout_is_read_as_go_prints_it(text, seconds):
    assert f.go_seconds(text) == seconds


def test_a_held_failure_knows_when_the_runner_lets_it_go():
    flow = f.WatchFlow(f.Settings())
    flow.feed(f.Scripts({"job1": SCRIPT}))
    armed(flow, view(1), now=50.0)
    flow.feed(f.Log(1, f.LogFacts("shell", True, True, "make", (), 1800.0)))
    assert flow.tracks[1].held_until == 1850.0
