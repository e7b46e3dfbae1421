"""When to try a REST request again, and how long to wait first (pure: no I/O, no clock).

Theory of operation: a `Retrier` follows one request through its tries. After each failed
try the adapter feeds it what happened (`feed(outcome)`) and gets a `Decision`: wait `delay`
seconds and try again, or give up (and the adapter raises the error of the last try). Only
passing faults are worth another try: 429, 502, 503 and 504, and a connection reset before
an answer arrived. Only requests that do the same thing however often they arrive are
repeated: GET, HEAD, OPTIONS, PUT and DELETE, and a POST the caller marks as such (signing
out twice signs out once). Retrying a POST that creates something could do it twice.

Waits grow exponentially from `base` (capped at `cap` each) with jitter, so clients that
failed together do not return together. A `Retry-After` header (seconds, or an HTTP date)
replaces the computed wait; when it asks for longer than `cap`, or than what is left of the
`budget` (the total waiting one request may do), the retrier gives up at once: the error
then says how long the server asked to wait, and the user decides. At most `tries` tries.

The clock and the randomness are inputs (`now`, `rand`), so tests drive it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RESET = 0  # the outcome "the connection broke before an answer"


@dataclass(frozen=True, slots=True)
class Policy:
    tries: int = 3  # tries in all, the first one included
    base: float = 0.5  # the first wait, before jitter
    cap: float = 5.0  # the longest single wait (and the longest Retry-After honoured)
    budget: float = 8.0  # the longest total wait for one request


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one try ended with: an HTTP status, or RESET; `retry_after` as the server sent it."""

    status: int
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    retry: bool
    delay: float = 0.0  # seconds to wait before the next try
    attempt: int = 1  # the number of the next try (when retry), counting from 1
    reason: str = ""  # why not, when not retrying: "" when the outcome is not retryable


def is_idempotent(method: str, *, safe_post: bool = False) -> bool:
    """Whether sending `method` twice has the effect of sending it once."""
    method = method.upper()
    return method in IDEMPOTENT_METHODS or (method == "POST" and safe_post)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from `now` (a Unix time): delta-seconds or an HTTP date.
    None when absent or unreadable; never negative."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is bogus
        return None
    return max(0.0, when.timestamp() - now)


class Retrier:
    """The retry state of one request (see the module comment)."""

    def __init__(self, method: str, *, safe_post: bool = False, policy: Policy | None = None):
        self.policy = policy or Policy()
        self.allowed = is_idempotent(method, safe_post=safe_post)
        self.tries = 1  # the first try is under way
        self.waited = 0.0

    def feed(self, outcome: Outcome, *, now: float, rand: float) -> Decision:
        """The try that just ended had `outcome`; `rand` is uniform in [0, 1)."""
        retryable = outcome.status == RESET or outcome.status in RETRY_STATUSES
        if not (retryable and self.allowed):
            return Decision(False)
        policy = self.policy
        if self.tries >= policy.tries:
            return Decision(False, reason=f"gave up after {self.tries} tries")
        asked = retry_after_seconds(outcome.retry_after, now)
        left = policy.budget - self.waited
        if asked is not None:
            if asked > policy.cap or asked > left:
                return Decision(False, reason=f"the server asked to wait {asked:.0f} s")
            delay = asked + rand * min(1.0, policy.base)  # a little spread, never earlier
        else:
            grown = min(policy.cap, policy.base * 2 ** (self.tries - 1))
            delay = grown * (0.5 + rand / 2)  # "equal jitter": between half and all of it
        if delay > left:
            return Decision(False, reason=f"gave up after waiting {self.waited:.1f} s")
        self.tries += 1
        self.waited += delay
        return Decision(True, delay, self.tries)
