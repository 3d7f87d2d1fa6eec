"""The announcer's claim on a request's notices while Slack keeps it waiting: renewed for as long as the call
lasts (a call with its retries may outlast the lease), so no other replica takes the notices over and posts them
too; and when the claim was lost all the same, the delivery stops at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import StoreUnavailable
from bot.runtime.held import ClaimLost, while_held
from bot.slack.announcer import Announcer
from bot.slack.blocks.messages import render_notice
from tests.support.bench import CHANNEL, Bench
from tests.support.harness import until

LEASE = 30.0


class Beats:
    """The announcer's sleep between two renewals of its claim, ended by the test: one `beat` is one renewal."""

    def __init__(self) -> None:
        self.asleep: asyncio.Queue[float] = asyncio.Queue()
        self._wake: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self.asleep.put_nowait(seconds)
        await self._wake.get()

    def beat(self) -> None:
        self._wake.put_nowait(None)


def replica(bench: Bench, owner: str, beats: Beats | None = None) -> Announcer:
    return Announcer(
        store=bench.store,
        client=AsyncWebClient(token="xoxb-test", base_url=bench.fake.base_url),
        render=render_notice,
        approvers="<@UBOB>",
        clock=bench.clock,
        owner=owner,
        lease_seconds=LEASE,
        sleep=(beats or Beats()).sleep,
    )


async def card_post_in_flight(bench: Bench) -> None:
    """Until the card's chat.postMessage reached Slack (which keeps it waiting)."""
    await until(lambda: bench.fake.calls_of("chat.postMessage") or None, 5, lambda: "the card was never posted")


async def test_a_delivery_slack_keeps_waiting_past_the_lease_stays_with_its_replica(bench: Bench) -> None:
    await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)  # its card is due
    beats = Beats()
    a, b = replica(bench, "replica-a", beats), replica(bench, "replica-b")
    answer = bench.fake.hold("chat.postMessage")
    delivering = asyncio.create_task(a.step())
    await card_post_in_flight(bench)
    assert await beats.asleep.get() == LEASE / 3
    for _ in range(3):  # Slack silent for 45 s, past the 30 s the claim was taken for
        bench.clock.advance(timedelta(seconds=15))
        beats.beat()
        await beats.asleep.get()  # renewed, and waiting for the next beat
    assert await bench.store.outbox.claim("replica-b", now=bench.clock(), lease_seconds=LEASE) == []
    assert await b.step() == b.interval  # nothing for the other replica to deliver

    answer.set()
    assert await delivering == 0.0
    assert await b.step() == b.interval and await bench.store.outbox.depth() == (0, None)
    assert len(bench.fake.calls_of("chat.postMessage")) == 1


async def test_a_replica_that_lost_its_claim_stops_delivering_at_once(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)
    beats = Beats()
    a = replica(bench, "replica-a", beats)
    answer = bench.fake.hold("chat.postMessage")
    delivering = asyncio.create_task(a.step())
    await card_post_in_flight(bench)
    await beats.asleep.get()
    bench.clock.advance(timedelta(seconds=LEASE + 1))  # the replica could not renew in time (frozen, say)
    taken = await bench.store.outbox.claim("replica-b", now=bench.clock(), lease_seconds=LEASE)
    assert taken, "the claim ran out: another replica takes the notices over"
    with caplog.at_level(logging.WARNING):
        beats.beat()
        async with asyncio.timeout(5):  # it does not wait for Slack's answer
            assert await delivering == 0.0
    assert "ran out and another replica took it over" in caplog.text
    assert not answer.is_set()
    answer.set()


async def test_a_held_work_cancelled_from_outside_is_cancelled_not_lost_and_an_unreachable_store_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    beats, answers = Beats(), [StoreUnavailable("the database is unavailable"), True]
    renewals: list[object] = []

    async def renew() -> bool:
        answer = answers.pop(0)
        renewals.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return answer

    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()  # a call that never ends

    held = asyncio.create_task(while_held(work(), renew=renew, every=1.0, sleep=beats.sleep, what="the test's work"))
    await started.wait()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            await beats.asleep.get()
            beats.beat()
        await beats.asleep.get()  # it beat through the outage, and holds on
    assert len(renewals) == 2 and "could not renew the claim on the test's work" in caplog.text
    held.cancel()  # the supervisor's step bound, say
    with pytest.raises(asyncio.CancelledError):
        await held


async def test_a_claim_that_cannot_be_renewed_for_a_whole_lease_is_given_up(caplog: pytest.LogCaptureFixture) -> None:
    """Cut off from the database (or a bug in renewing), this replica stops before another takes the claim over
    and posts too; each failed renewal says so, a bug with its traceback."""
    beats, failures = (
        Beats(),
        [StoreUnavailable("the database is unavailable"), RuntimeError("a bug"), StoreUnavailable("again")],
    )

    async def renew() -> bool:
        raise failures.pop(0)

    async def work() -> None:
        await asyncio.Event().wait()

    held = asyncio.create_task(while_held(work(), renew=renew, every=1.0, sleep=beats.sleep, what="the test's work"))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await beats.asleep.get()
            beats.beat()
        with pytest.raises(ClaimLost):
            async with asyncio.timeout(5):  # a beat that died would leave it holding on forever
                await held
    assert not failures
    assert (
        "renewing the claim on the test's work failed (2 of 3)" in caplog.text and "RuntimeError: a bug" in caplog.text
    )
    assert "could not be renewed for a whole lease" in caplog.text
