"""Bounded waits that never lose a cancel.

Before Python 3.12, `asyncio.wait_for` turns a cancel into a normal return when it arrives
in the same loop step as the awaitable's result. A task stopped by a cancel then runs on:
the sandbox's job-life driver, a loop, never stopped, and its server hung on SIGTERM; attach
would go on to wait for a key the user never types. `asyncio.wait` has no such window, so
every bounded wait in jobterm is one of these, and a test keeps `wait_for` out of the package.

    await within(awaitable, timeout) -> result      else asyncio.TimeoutError, as wait_for
    await wait_set(event, timeout) -> bool          is the event set when the wait ends?
    await get_within(queue, timeout) -> (True, item) | (False, None)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal, TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout: float | None) -> T:
    """`awaitable`'s result if it comes within `timeout` seconds (None: no limit); else it
    is cancelled and asyncio.TimeoutError raised, as wait_for does: if it finishes all the
    same (it caught the cancel), its result or error stands, so that nothing it opened is
    dropped. A cancel meanwhile cancels it too, and returns once it has wound down."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task})
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task})  # its own CancelledError stays in it; ours would not
        if task.cancelled():
            raise asyncio.TimeoutError
    return task.result()


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; whether it is set at the end."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()


async def get_within(
    queue: asyncio.Queue[T], timeout: float
) -> tuple[Literal[True], T] | tuple[Literal[False], None]:
    """The next item of an unbounded `queue` if one comes within `timeout` seconds.

    Cancelled in the very step an item came, the wait puts that item back (at the end: an
    asyncio.Queue has no front door; unbounded, so it has room), so nothing is lost to
    whoever reads the queue next."""
    if queue.maxsize > 0:
        raise ValueError("get_within needs an unbounded queue to put an item back into")
    if not queue.empty():
        return True, queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter}, timeout=timeout)
    except asyncio.CancelledError:
        if getter.done() and not getter.cancelled() and getter.exception() is None:
            queue.put_nowait(getter.result())
        raise
    finally:
        getter.cancel()
    if getter.done() and not getter.cancelled():
        return True, getter.result()
    return False, None
