"""jobterm.aio: bounded waits that always let a cancel through, and a guard that keeps
`asyncio.wait_for` (which can lose one before Python 3.12) out of the package."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import jobterm
from jobterm.aio import get_within, wait_set, within

PACKAGE = Path(jobterm.__file__).resolve().parent
STEPS = range(4)  # loop steps between the result and the cancel (wait_for loses it at 0-2)


def test_within_gives_the_result_or_times_out_and_cancels() -> None:
    async def scenario() -> tuple[str, bool, bool]:
        async def answer() -> str:
            await asyncio.sleep(0.01)
            return "done"

        slow = asyncio.ensure_future(asyncio.sleep(3600))
        result = await within(answer(), 5.0)
        try:
            await within(slow, 0.01)
        except asyncio.TimeoutError:
            timed_out = True
        else:
            timed_out = False
        return result, timed_out, slow.cancelled()

    assert asyncio.run(scenario()) == ("done", True, True)


@pytest.mark.parametrize("wait", ["within", "wait_set"])
@pytest.mark.parametrize("steps", STEPS)
def test_a_wait_never_loses_a_cancel(wait: str, steps: int) -> None:
    """What the wait waits for comes `steps` loop steps before the waiting task is
    cancelled: the task ends cancelled, unless it had already returned."""

    async def scenario() -> bool:
        event = asyncio.Event()
        waiting = within(event.wait(), 5.0) if wait == "within" else wait_set(event, 5.0)
        task = asyncio.ensure_future(waiting)
        await asyncio.sleep(0.01)
        event.set()
        for _ in range(steps):
            await asyncio.sleep(0)
        returned_before = task.done()
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        return task.cancelled() or returned_before  # lost: neither

    assert asyncio.run(scenario()), "the cancel was lost"


def test_within_cancelled_cancels_what_it_waits_for() -> None:
    async def scenario() -> bool:
        inner = asyncio.ensure_future(asyncio.sleep(3600))
        task = asyncio.ensure_future(within(inner, 5.0))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait({task})
        await asyncio.sleep(0)
        return inner.cancelled()

    assert asyncio.run(scenario())


def test_within_keeps_what_finishes_despite_the_timeout() -> None:
    """An awaitable that catches the timeout's cancel and returns (a connection it had
    just opened, say) gives its result, as wait_for does, instead of losing it."""

    async def scenario() -> str:
        async def stubborn() -> str:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                return "opened"
            return "slept"

        return await within(stubborn(), 0.01)

    assert asyncio.run(scenario()) == "opened"


def test_a_cancelled_within_returns_once_the_awaitable_has_wound_down() -> None:
    async def scenario() -> list[str]:
        steps: list[str] = []

        async def slow_to_stop() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(0.05)  # closing something
                steps.append("wound down")
                raise

        task = asyncio.ensure_future(within(slow_to_stop(), 5.0))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait({task})
        steps.append("cancelled" if task.cancelled() else "not cancelled")
        return steps

    assert asyncio.run(scenario()) == ["wound down", "cancelled"]


def test_wait_set_says_whether_the_event_came() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        event = asyncio.Event()
        missed = await wait_set(event, 0.01)
        asyncio.get_running_loop().call_later(0.01, event.set)
        came = await wait_set(event, 5.0)
        already = await wait_set(event, 0)
        return missed, came, already

    assert asyncio.run(scenario()) == (False, True, True)


@pytest.mark.parametrize("steps", STEPS)
def test_a_loop_on_wait_set_stops_when_cancelled(steps: int) -> None:
    """The shape that hung the sandbox: a loop that waits, stopped only by a cancel."""

    async def scenario() -> bool:
        event = asyncio.Event()

        async def loop() -> None:
            while True:
                event.clear()
                await wait_set(event, 5.0)

        task = asyncio.ensure_future(loop())
        await asyncio.sleep(0.01)
        event.set()
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        return task in done

    assert asyncio.run(scenario()), "the loop ran on after its cancel"


def test_get_within_gives_the_next_item_or_nothing() -> None:
    async def scenario() -> list[tuple[bool, str | None]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        answers = [await get_within(queue, 0.01)]
        asyncio.get_running_loop().call_later(0.01, queue.put_nowait, "a")
        answers.append(await get_within(queue, 5.0))
        queue.put_nowait("b")
        answers.append(await get_within(queue, 0))
        return answers

    assert asyncio.run(scenario()) == [(False, None), (True, "a"), (True, "b")]


@pytest.mark.parametrize("steps", STEPS)
def test_a_cancelled_get_within_loses_neither_the_cancel_nor_the_item(steps: int) -> None:
    """The item arrives `steps` loop steps before the cancel: the loop took it, or the queue
    still holds it, and the loop stops either way."""

    async def scenario() -> tuple[bool, list[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        taken: list[str] = []

        async def loop() -> None:
            while True:
                came, item = await get_within(queue, 5.0)
                if came and item is not None:
                    taken.append(item)

        task = asyncio.ensure_future(loop())
        await asyncio.sleep(0.01)
        queue.put_nowait("kept")
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        left = [queue.get_nowait() for _ in range(queue.qsize())]
        return task.cancelled(), taken + left

    assert asyncio.run(scenario()) == (True, ["kept"])


def test_get_within_refuses_a_bounded_queue() -> None:
    async def scenario() -> None:
        await get_within(asyncio.Queue(maxsize=1), 0.01)

    with pytest.raises(ValueError, match="unbounded"):
        asyncio.run(scenario())


# -- the guard -----------------------------------------------------------------------------


def wait_for_calls(source: str) -> list[int]:
    """Lines where `source` calls `asyncio.wait_for` or imports it from asyncio."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "asyncio":
            found += [node.lineno for a in node.names if a.name == "wait_for"]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if node.func.attr == "wait_for" and isinstance(owner, ast.Name):
                found += [node.lineno] if owner.id == "asyncio" else []
    return found


def test_the_guard_finds_the_shape_that_hung() -> None:
    hung = (
        "async def run(self):\n"
        "    while True:\n"
        "        with contextlib.suppress(asyncio.TimeoutError):\n"
        "            await asyncio.wait_for(self._changed.wait(), 1)\n"
    )
    assert wait_for_calls(hung) == [4]
    assert wait_for_calls("from asyncio import sleep, wait_for\n") == [1]
    assert wait_for_calls("async def f():\n    await within(thing(), 1)\n") == []
    assert wait_for_calls("cache.wait_for(directory, present)\n") == []  # not asyncio's


def test_nothing_in_the_package_waits_with_wait_for() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in wait_for_calls(path.read_text())
    ]
    assert offenders == [], "use jobterm.aio's waits instead: " + ", ".join(offenders)
