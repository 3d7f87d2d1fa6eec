"""Acks before background work (bot.runtime.ack_first): a job spawned while Slack requests come in starts once they
have let up, in order, one per turn of the event loop, and never later than its bound. The clock is driven: no
test waits for real time to pass."""

from __future__ import annotations

import asyncio

from bot.runtime.ack_first import AckFirst
from bot.runtime.supervisor import Supervisor
from tests.support.clock import DrivenClock


async def turns(count: int = 10) -> None:
    """Let the event loop run `count` turns."""
    for _ in range(count):
        await asyncio.sleep(0)


def gate() -> tuple[AckFirst, DrivenClock]:
    clock = DrivenClock()
    # A quiet time no real wait in a test reaches: only the test's clock.advance ends it.
    return AckFirst(clock=clock, max_wait_seconds=3600.0, quiet_seconds=600.0), clock


async def test_a_job_waits_while_requests_come_in_and_starts_once_they_let_up() -> None:
    ack_first, clock = gate()
    supervisor = Supervisor(clock=clock, ack_first=ack_first)
    started: list[str] = []

    async def job(name: str) -> None:
        started.append(name)

    with ack_first.answering():
        supervisor.spawn(job("open form"), name="open form")
        await turns()
        assert started == []  # the answer goes out first
    await turns()
    assert started == []  # answered, but another request may follow at once
    clock.advance(300.0)
    with ack_first.answering():  # one does: the quiet time starts again
        pass
    clock.advance(300.0)
    await turns()
    assert started == []
    clock.advance(300.1)  # 600 s without a request
    for _ in range(100):
        if started:
            break
        await asyncio.sleep(0)
    assert started == ["open form"]
    await supervisor.close()


async def test_waiting_jobs_start_in_order_one_per_turn_and_stop_for_a_new_request() -> None:
    ack_first, clock = gate()
    started: list[int] = []

    async def job(n: int) -> None:
        await ack_first.turn()
        started.append(n)

    with ack_first.answering():
        tasks = [asyncio.ensure_future(job(n)) for n in range(6)]
        await turns()
    clock.advance(600.1)
    seen = []
    while len(started) < 2:
        await asyncio.sleep(0)
        seen.append(len(started))
    assert all(b - a <= 1 for a, b in zip([0, *seen], seen, strict=False))  # one job per turn of the loop
    with ack_first.answering():  # a request arrives: the jobs not yet let go wait again
        await turns()
        assert started[:2] == [0, 1] and len(started) <= 3
    await turns()
    assert len(started) <= 3  # ...for the quiet time after it too
    clock.advance(600.1)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert started == [0, 1, 2, 3, 4, 5]
    assert ack_first.waiting == 0


async def test_a_job_never_waits_longer_than_its_bound() -> None:
    """With the defaults the bot runs with: a form's job starts within 0.3 s, far inside its trigger's 3 s."""
    clock = DrivenClock()
    ack_first = AckFirst(clock=clock)
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
        await asyncio.wait_for(done.wait(), 0.2)  # at once (a longer bound would need real time to pass)
    await task


async def test_no_recent_request_no_wait_and_a_cancelled_job_never_runs() -> None:
    ack_first, clock = gate()
    supervisor = Supervisor(clock=clock, ack_first=ack_first)
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    await asyncio.wait_for(ack_first.turn(), 5)  # at once: no request has come
    with ack_first.answering():
        waiting = supervisor.spawn(job("cancelled"), name="cancelled")
        later = supervisor.spawn(job("later"), name="later")
        await turns()
        assert waiting is not None and later is not None
        waiting.cancel()
        await turns()
    clock.advance(600.1)
    await asyncio.wait_for(later, 5)
    assert ran == ["later"]
    assert waiting.cancelled()
    await supervisor.close()
