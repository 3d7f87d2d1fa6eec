"""The form's gateway remembers DDM's answers briefly: one call for many askers, failures not remembered."""

from __future__ import annotations

import asyncio

import pytest

from bot.workflow.cached import CachedReads


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_askers_share_one_call_until_the_answer_is_stale() -> None:
    clock = Clock()
    reads = CachedReads(20, clock=clock)
    calls = 0

    async def load() -> list[str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return ["orders-prod"]

    answers = await asyncio.gather(*[reads.get(("instances",), load) for _ in range(10)])
    assert answers == [["orders-prod"]] * 10 and calls == 1
    clock.now += 19
    await reads.get(("instances",), load)
    assert calls == 1
    clock.now += 2
    await reads.get(("instances",), load)
    assert calls == 2
    await reads.get(("windows", "src"), load)
    assert calls == 3  # another question is another call


async def test_a_failure_is_not_remembered() -> None:
    reads = CachedReads(20)
    outcomes: list[Exception | str] = [RuntimeError("DDM is busy"), "answer"]

    async def load() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(RuntimeError):
        await reads.get("k", load)
    assert await reads.get("k", load) == "answer"
