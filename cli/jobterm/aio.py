"""Bounded waits that never lose a cancel.

Before Python 3.12, `asyncio.wait_for` turns a cancel into a normal return when it arrives
in the same loop step as the awaitable's result (CPython gh-86296). A loop that waits with
wait_for and is stopped by cancelling its task may then never stop: the sandbox's job-life
driver did, and its server hung on SIGTERM. `asyncio.wait` has no such window, so these
waits are built on it. A test keeps `wait_for` out of every `while` loop in the package.

    await wait_set(event, timeout) -> bool          set within timeout?
    await get_within(queue, timeout) -> (bool, item) an item within timeout?
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; True if it is set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()


async def get_within(queue: asyncio.Queue[T], timeout: float) -> tuple[bool, T | None]:
    """The next item of `queue` if one comes within `timeout` seconds: (True, item), else
    (False, None).

    Cancelled in the very step an item came, the wait puts that item back (at the end: an
    asyncio.Queue has no front door), so nothing is lost to whoever reads the queue next."""
    if not queue.empty():
        return True, queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter}, timeout=timeout)
    except asyncio.CancelledError:
        if getter.done() and not getter.cancelled():
            queue.put_nowait(getter.result())
        raise
    finally:
        getter.cancel()
    if getter.done() and not getter.cancelled():
        return True, getter.result()
    return False, None
