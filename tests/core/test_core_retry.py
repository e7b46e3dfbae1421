"""The retry policy (core/retry.py): which requests are tried again, how long each wait is,
and that no sequence of faults makes it wait past its caps or try more than its tries."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.retry import RESET, Outcome, Policy, Retrier, is_idempotent, retry_after_seconds

NOW = 1_700_000_000.0


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get"])
def test_idempotent_methods_are_retried(method):
    decision = Retrier(method).feed(Outcome(502), now=NOW, rand=0.0)
    assert decision.retry
    assert decision.attempt == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_requests_that_may_act_twice_are_never_retried(method):
    for status in (RESET, 429, 502, 503, 504):
        assert not Retrier(method).feed(Outcome(status), now=NOW, rand=0.5).retry


def test_a_post_safe_by_construction_is_retried():
    assert is_idempotent("POST", safe_post=True)
    assert Retrier("POST", safe_post=True).feed(Outcome(RESET), now=NOW, rand=0.5).retry


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 409, 422, 500, 501, 505])
def test_answers_that_will_not_pass_are_not_retried(status):
    decision = Retrier("GET").feed(Outcome(status), now=NOW, rand=0.5)
    assert not decision.retry
    assert decision.reason == ""


def test_at_most_three_tries_with_growing_waits():
    retrier = Retrier("GET")
    first = retrier.feed(Outcome(503), now=NOW, rand=0.999)
    second = retrier.feed(Outcome(503), now=NOW, rand=0.999)
    third = retrier.feed(Outcome(503), now=NOW, rand=0.999)
    assert (first.retry, second.retry, third.retry) == (True, True, False)
    assert 0.25 <= first.delay <= 0.5 < second.delay <= 1.0
    assert "3 tries" in third.reason


def test_retry_after_in_seconds_replaces_the_backoff():
    decision = Retrier("GET").feed(Outcome(429, "3"), now=NOW, rand=0.0)
    assert decision.retry
    assert decision.delay == 3.0


def test_retry_after_as_an_http_date():
    when = format_datetime(datetime.fromtimestamp(NOW + 4, tz=timezone.utc), usegmt=True)
    assert retry_after_seconds(when, NOW) == pytest.approx(4.0)
    decision = Retrier("GET").feed(Outcome(503, when), now=NOW, rand=0.0)
    assert decision.delay == pytest.approx(4.0)


def test_a_retry_after_in_the_past_means_now():
    when = format_datetime(datetime.fromtimestamp(NOW - 60, tz=timezone.utc), usegmt=True)
    assert retry_after_seconds(when, NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2020", "٣"])
def test_unreadable_retry_after_falls_back_to_the_backoff(value):
    assert retry_after_seconds(value, NOW) is None
    decision = Retrier("GET").feed(Outcome(503, value), now=NOW, rand=0.0)
    assert decision.retry
    assert decision.delay == 0.25


def test_a_long_retry_after_gives_up_at_once_and_says_why():
    decision = Retrier("GET").feed(Outcome(429, "120"), now=NOW, rand=0.0)
    assert not decision.retry
    assert "120 s" in decision.reason


FAULTS = st.lists(
    st.tuples(
        st.sampled_from([RESET, 429, 502, 503, 504]),
        st.one_of(st.none(), st.integers(0, 30).map(str)),
        st.floats(0, 1, exclude_max=True),
    ),
    min_size=1,
    max_size=10,
)


@given(faults=FAULTS, tries=st.integers(1, 6), budget=st.floats(0, 20))
def test_no_fault_sequence_breaks_the_caps(faults, tries, budget):
    policy = Policy(tries=tries, budget=budget)
    retrier = Retrier("GET", policy=policy)
    total, made = 0.0, 1
    for status, after, rand in faults:
        decision = retrier.feed(Outcome(status, after), now=NOW, rand=rand)
        if not decision.retry:
            break
        assert 0 <= decision.delay <= policy.cap + policy.base
        total += decision.delay
        made += 1
        assert decision.attempt == made
    assert made <= tries
    assert total <= budget + 1e-9
