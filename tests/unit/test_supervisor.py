"""The supervisor: loops that fail are retried and reported in one line (a bug with its traceback), healthy means
alive and within bounds (a step within its bound, a wait within what it asked for), shutdown drains."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bot.errors import StoreUnavailable
from bot.runtime.clock import WALL_CLOCK
from bot.runtime.supervisor import LATE_SECONDS, Supervisor


class Clock:
    """Health reads `monotonic`, which stands still until the test moves it; waits run in real time."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        await WALL_CLOCK.sleep(seconds, wake)


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

    supervisor.every("sweeper", 0.01, step, step_seconds=5)
    supervisor.start()
    for _ in range(200):
        if calls >= 4:
            break
        await asyncio.sleep(0.01)
    ok, loops = supervisor.health()
    assert calls >= 4 and ok and loops["sweeper"]["failures"] == 0 and loops["sweeper"]["alive"]
    await supervisor.close()
    assert not supervisor.health()[0]  # closed loops are not alive


async def test_health_follows_steps_and_asked_for_waits() -> None:
    clock = Clock()
    supervisor = Supervisor(clock=clock)
    fail = False
    cycles = 0

    async def step() -> float:
        nonlocal cycles
        cycles += 1
        if fail:
            raise RuntimeError("boom")
        return 100.0 if cycles == 1 else 1.0  # e.g. the follower backing off from DDM

    state = supervisor.every("follower", 1.0, step, step_seconds=30)
    supervisor.start()
    await asyncio.sleep(0.05)
    assert supervisor.health()[0]
    clock.t += 100 + LATE_SECONDS - 1  # within the wait the loop asked for
    assert supervisor.health()[0]
    clock.t += 2  # past it, and the loop never woke: stuck
    assert not supervisor.health()[0]
    fail = True
    state.wake.set()
    await asyncio.sleep(0.05)
    # Failing is alive: the loop backs off and tries again (a restart would not help).
    ok, loops = supervisor.health()
    assert ok and loops["follower"]["failures"] == 1 and "boom" in loops["follower"]["last_error"]
    await supervisor.close()


async def test_a_step_past_its_bound_is_unhealthy_and_then_stopped() -> None:
    clock = Clock()
    supervisor = Supervisor(clock=clock)
    release = asyncio.Event()
    steps = 0

    async def step() -> float:
        nonlocal steps
        steps += 1
        if steps == 1:
            await release.wait()  # a call that never returns
        return 0.01

    supervisor.every("announcer", 0.01, step, step_seconds=0.3)
    supervisor.start()
    await asyncio.sleep(0.05)
    ok, loops = supervisor.health()
    assert ok and loops["announcer"]["in_step_seconds"] == 0.0  # the fake clock has not moved
    clock.t += 0.3 + LATE_SECONDS + 1
    ok, loops = supervisor.health()
    assert not ok and loops["announcer"]["in_step_seconds"] > loops["announcer"]["step_bound_seconds"]
    clock.t = 1000.0
    # In real time the bound stops the step; the loop goes on and cycles again.
    for _ in range(200):
        if steps >= 3:
            break
        await asyncio.sleep(0.01)
    ok, loops = supervisor.health()
    assert steps >= 3 and ok, loops
    await supervisor.close()


async def test_an_outage_is_one_line_and_a_bug_has_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor()
    errors: list[Exception] = [StoreUnavailable("ConnectionRefusedError")] * 2 + [KeyError("x")] * 2
    calls = 0

    async def step() -> float:
        nonlocal calls
        calls += 1
        if calls <= len(errors):
            raise errors[calls - 1]
        return 60.0

    supervisor.every("sweeper", 0.01, step, step_seconds=5)
    with caplog.at_level(logging.WARNING, logger="bot.runtime.supervisor"):
        supervisor.start()
        for _ in range(300):
            if calls > len(errors):
                break
            await asyncio.sleep(0.01)
        await supervisor.close()
    records = [r for r in caplog.records if r.name == "bot.runtime.supervisor"]
    outages = [r for r in records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in outages] == [
        "sweeper: the database is unreachable (ConnectionRefusedError); again in 0.0 s",
        "sweeper: the database is unreachable (ConnectionRefusedError); again in 0.0 s",
    ]
    assert not any(r.exc_info for r in outages)
    bugs = [r for r in records if r.levelno == logging.ERROR]
    # The bug follows two outages in a row: its traceback still goes out, once; the same bug again is a line.
    assert len(bugs) == 2 and all("KeyError" in r.getMessage() for r in bugs)
    assert bugs[0].exc_info and not bugs[1].exc_info


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
