"""Trying a REST request again after a passing fault: the adapter around `core.retry`.

`send_retrying` runs one try, feeds its outcome to a `Retrier`, sleeps the wait it decides
and tries again; the last answer (or transport error) is what the caller sees, so a fault
that persists ends the command as it would have without retries. Each retry is one line of
the --debug log, with the status, the wait and the try number.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobterm.core.retry import RESET, Outcome, Policy, Retrier

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("jobterm.http")


def is_reset(exc: Exception) -> bool:
    """Whether the connection broke after the request went out and before an answer: the
    peer reset it, or closed it without a word (a restarting server or proxy)."""
    import httpx

    return isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError))


def send_retrying(
    try_once: Callable[[], httpx.Response],
    method: str,
    url: str,
    *,
    safe_post: bool = False,
    policy: Policy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """`try_once()` until it gives an answer worth keeping (see `core.retry`)."""
    import httpx

    retrier = Retrier(method, safe_post=safe_post, policy=policy)
    while True:
        error: httpx.HTTPError | None = None
        try:
            response: httpx.Response | None = try_once()
        except httpx.HTTPError as exc:
            if not is_reset(exc):
                raise
            error, response = exc, None
        if response is not None:
            outcome = Outcome(response.status_code, response.headers.get("retry-after"))
        else:
            outcome = Outcome(RESET)
        decision = retrier.feed(outcome, now=time.time(), rand=random.random())
        what = "connection reset" if outcome.status == RESET else str(outcome.status)
        if not decision.retry:
            if decision.reason:
                log.debug("! %s %s: %s; not retrying (%s)", method, url, what, decision.reason)
            if error is not None:
                raise error
            assert response is not None
            return response
        log.debug(
            "! %s %s: %s; retrying in %.2f s (try %d of %d)",
            method,
            url,
            what,
            decision.delay,
            decision.attempt,
            retrier.policy.tries,
        )
        sleep(decision.delay)
