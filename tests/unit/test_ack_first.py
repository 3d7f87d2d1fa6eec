"""Acks before background work (bot.runtime.ack_first): a job spawned while Slack requests are being answered
starts once none is, one job per turn of the event loop, and never later than its bound."""

from __future__ import annotations

import asyncio

from bot.runtime.ack_first import AckFirst
from bot.runtime.supervisor import Supervisor
from tests.support.clock import DrivenClock


async def turns(count: int = 5) -> None:
    """Let the event loop run `count` turns (no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_job_waits_while_a_request_is_answered_and_starts_after() -> None:
    supervisor = Supervisor(clock=DrivenClock())
    started: list[str] = []

    async def job(name: str) -> None:
        started.append(name)

    with supervisor.ack_first.answering():
        supervisor.spawn(job("open form"), name="open form")
        await turns()
        assert started == []  # the answer goes out first
        with supervisor.ack_first.answering():  # a second request arrives meanwhile
            pass
        await turns()
        assert started == []  # the first is still being answered
    await turns()
    assert started == ["open form"]
    await supervisor.close()


async def test_waiting_jobs_start_one_per_turn_in_order_and_yield_to_new_requests() -> None:
    ack_first = AckFirst(clock=DrivenClock())
    started: list[int] = []

    async def job(n: int) -> None:
        await ack_first.turn()
        started.append(n)

    with ack_first.answering():
        tasks = [asyncio.ensure_future(job(n)) for n in range(6)]
        await turns()
    seen = []
    while len(started) < 2:
        await asyncio.sleep(0)
        seen.append(len(started))
    assert all(b - a <= 1 for a, b in zip([0, *seen], seen, strict=False))  # one job per turn of the loop
    with ack_first.answering():  # a request arrives: the jobs not yet released wait again
        await turns()
        assert started[:2] == [0, 1] and len(started) <= 3
    await asyncio.gather(*tasks)
    assert started == [0, 1, 2, 3, 4, 5]
    assert ack_first.waiting == 0


async def test_a_job_never_waits_longer_than_its_bound() -> None:
    clock = DrivenClock()
    ack_first = AckFirst(clock=clock, max_wait_seconds=0.3)
    done = asyncio.Event()

    async def job() -> None:
        await ack_first.turn()
        done.set()

    with ack_first.answering():  # answering without end (a burst that goes on)
        task = asyncio.ensure_future(job())
        await turns()
        clock.advance(0.2)
        await turns()
        assert not done.is_set()
        clock.advance(0.11)  # 0.31 s: past the bound, busy or not
        await asyncio.wait_for(done.wait(), 5)
    await task


async def test_no_request_no_wait_and_a_cancelled_job_never_runs() -> None:
    supervisor = Supervisor(clock=DrivenClock())
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    await supervisor.ack_first.turn()  # returns at once: nothing is being answered
    with supervisor.ack_first.answering():
        waiting = supervisor.spawn(job("cancelled"), name="cancelled")
        later = supervisor.spawn(job("later"), name="later")
        await turns()
        assert waiting is not None and later is not None
        waiting.cancel()
        await turns()
    await asyncio.wait_for(later, 5)
    assert ran == ["later"]
    assert waiting.cancelled()
    await supervisor.close()
