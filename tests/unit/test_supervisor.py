"""The supervisor: loops that fail are retried and reported, healthy means alive and recent, shutdown drains."""

from __future__ import annotations

import asyncio

from bot.runtime.supervisor import Supervisor
from tests.support.clock import DrivenClock
from tests.support.harness import until


async def test_a_failing_loop_is_retried_and_reported_then_recovers() -> None:
    supervisor = Supervisor()
    outcomes = [RuntimeError("database down"), RuntimeError("still down"), None, None]
    calls = 0

    async def step() -> float:
        nonlocal calls
        calls += 1
        outcome = outcomes[min(calls - 1, len(outcomes) - 1)]
        if outcome is not None:
            raise outcome
        return 0.01

    supervisor.every("sweeper", 0.01, step)
    supervisor.start()
    for _ in range(200):
        if calls >= 4:
            break
        await asyncio.sleep(0.01)
    ok, loops = supervisor.health()
    assert calls >= 4 and ok and loops["sweeper"]["failures"] == 0 and loops["sweeper"]["alive"]
    await supervisor.close()
    assert not supervisor.health()[0]  # closed loops are not alive


async def test_health_follows_cycles_and_asked_for_waits() -> None:
    clock = DrivenClock()
    supervisor = Supervisor(clock=clock)
    fail = False
    cycles = 0

    async def step() -> float:
        nonlocal cycles
        cycles += 1
        if fail:
            raise RuntimeError("boom")
        return 100.0 if cycles == 1 else 1.0  # e.g. the follower backing off from DDM

    state = supervisor.every("follower", 1.0, step)
    supervisor.start()
    await until(lambda: state.last_ok, 5, lambda: "the first cycle never finished")
    assert supervisor.health()[0]
    clock.advance(50)  # within the wait the loop asked for
    assert supervisor.health()[0]
    clock.advance(60)  # past it, and no cycle has finished since
    assert not supervisor.health()[0]
    fail = True
    state.wake.set()
    await until(lambda: state.failures or None, 5, lambda: "the failing cycle never ran")
    ok, loops = supervisor.health()
    assert not ok and loops["follower"]["failures"] == 1 and "boom" in loops["follower"]["last_error"]
    await supervisor.close()


async def test_close_lets_tasks_finish_within_the_grace_and_cancels_the_rest() -> None:
    supervisor = Supervisor()
    finished: list[str] = []

    async def work(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        finished.append(name)

    supervisor.spawn(work("submit", 0.05), "submit")
    supervisor.spawn(work("forever", 60), "forever")
    await supervisor.close(grace_seconds=0.5)
    assert finished == ["submit"] and supervisor.busy == 0
    assert supervisor.spawn(work("late", 0), "late") is None  # nothing new starts after close
