"""jobterm.aio: bounded waits that always let a cancel through, and a guard that keeps
`asyncio.wait_for` (which can lose one before Python 3.12) out of every `while` loop: the
loops that run until something stops them. A `for` over a collection ends by itself."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import jobterm
from jobterm.aio import get_within, wait_set

PACKAGE = Path(jobterm.__file__).resolve().parent
STEPS = range(4)  # loop steps between the wait's result and the cancel: 0 is the same step


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
def test_wait_set_never_loses_a_cancel(steps: int) -> None:
    """The event is set `steps` loop steps before the waiting task is cancelled."""

    async def scenario() -> bool:
        event = asyncio.Event()
        task = asyncio.ensure_future(wait_set(event, 5.0))
        await asyncio.sleep(0.01)
        event.set()
        for _ in range(steps):
            await asyncio.sleep(0)
        returned_before = task.done()
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        return task.cancelled() or returned_before  # lost: neither

    assert asyncio.run(scenario()), "the cancel was lost"


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


# -- the guard -----------------------------------------------------------------------------


def wait_for_in_loops(source: str) -> list[int]:
    """Lines where `asyncio.wait_for` is called inside a `while` loop of the same function
    (a function defined inside the loop is its own scope)."""
    found: list[int] = []

    def visit(node: ast.AST, in_loop: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
                continue
            is_call = isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
            if is_call and child.func.attr == "wait_for" and in_loop:  # type: ignore[union-attr]
                found.append(child.lineno)
            visit(child, in_loop or isinstance(child, ast.While))

    visit(ast.parse(source), False)
    return found


def test_the_guard_finds_the_shape_that_hung() -> None:
    hung = (
        "async def run(self):\n"
        "    while True:\n"
        "        with contextlib.suppress(asyncio.TimeoutError):\n"
        "            await asyncio.wait_for(self._changed.wait(), 1)\n"
        "        async def inner():\n"
        "            return 1\n"
    )
    assert wait_for_in_loops(hung) == [4]
    once = "async def once():\n    await asyncio.wait_for(thing(), 1)\n"
    assert wait_for_in_loops(once) == []
    each = "async def each(xs):\n    for x in xs:\n        await asyncio.wait_for(x, 1)\n"
    assert wait_for_in_loops(each) == []


def test_no_loop_in_the_package_waits_with_wait_for() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in wait_for_in_loops(path.read_text())
    ]
    assert offenders == [], "use jobterm.aio's waits in loops: " + ", ".join(offenders)
