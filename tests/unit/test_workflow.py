"""The use cases on the in-memory store (no database, no sleeps): a request from its card to its completed job,
expiry on the clock, a submit the sweeper takes up after the store failed under it, the target lock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.errors import Refusal
from bot.restore.checks import TARGET
from bot.restore.request import RequestState, RestoreRequest
from bot.simulator.world import ORDERS_RESTORE_1_ID
from bot.workflow.follow import LEASE as FOLLOWER_LEASE
from bot.workflow.verify import LEASE as VERIFIER_LEASE
from tests.support.bench import CHANNEL, TTL, Bench

S = RequestState


async def a_request(bench: Bench) -> RestoreRequest:
    return await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)


def thread(bench: Bench, request: RestoreRequest) -> list[str]:
    assert request.message_ts
    return [str(m.get("text")) for m in bench.fake.thread(CHANNEL, request.message_ts)]


async def test_approved_it_is_posted_once_and_followed_to_its_end_and_people_hear_each_step(bench: Bench) -> None:
    request = await a_request(bench)
    assert request.state is S.PENDING and request.plan.target.id == ORDERS_RESTORE_1_ID

    assert await bench.announcer.step() == 0.0  # the card is posted
    posted = await bench.store.get(request.id)
    assert posted is not None and posted.message_ts is not None
    card = json.dumps(bench.fake.message(CHANNEL, posted.message_ts)["blocks"])
    assert "awaiting approval (0/1)" in card and "approve_request" in card

    await bench.desk.approve(request.id, "UBOB")
    running = await bench.store.get(request.id)
    assert running is not None and running.state is S.RUNNING and running.job_id
    recoveries = [c for c in bench.sim.state.calls if c.route == "recovery"]
    assert len(recoveries) == 1 and recoveries[0].body == running.plan.restore_body()

    bench.clock.advance(timedelta(seconds=30))  # the simulator's job takes 20 s
    assert await bench.follower.step() == 10
    completed = await bench.store.get(request.id)
    assert completed is not None and completed.state is S.VERIFYING and completed.job_progress == 100
    assert await bench.verifier.step() == 10  # the target is RUNNING again, its data nodes as planned
    done = await bench.store.get(request.id)
    assert done is not None and done.state is S.VERIFIED
    actions = [a.action for a in await bench.store.audit_trail(request.id)]
    assert actions == ["create", "approve", "approved", "submit", "job_submitted", "job_completed", "verified"]

    while await bench.announcer.step() == 0.0:  # drains the outbox, then waits its interval
        pass
    assert await bench.store.outbox.depth() == (0, None)
    texts = thread(bench, posted)
    assert texts[0] == "<@UBOB> approved (1/1)."
    assert f"Restore job `{done.job_id}` submitted to DDM (cn-north-4)." in texts
    assert "Restore completed" in texts[-2] and "Verifying it now" in texts[-2]
    assert texts[-1].startswith("✅ Verified: orders-restore-1 is RUNNING at 192.168.1.")
    assert texts[-1].endswith(" · 2/2 data nodes as planned · no SQL checks set up")
    card = json.dumps(bench.fake.message(CHANNEL, posted.message_ts)["blocks"], ensure_ascii=False)
    assert f"✅ *DDM restore request* `{request.id}` · verified" in card


async def test_a_pending_request_expires_when_its_time_is_up(bench: Bench) -> None:
    request = await a_request(bench)
    delay = await bench.sweeper.step()
    assert delay == 30  # the sweep interval: the expiry is further away
    bench.clock.advance(TTL - timedelta(seconds=10))
    assert await bench.sweeper.step() == pytest.approx(10.05, abs=0.01)  # woken up for the expiry
    current = await bench.store.get(request.id)
    assert current is not None and current.state is S.PENDING
    bench.clock.advance(timedelta(seconds=11))
    await bench.sweeper.step()
    expired = await bench.store.get(request.id)
    assert expired is not None and expired.state is S.EXPIRED
    with pytest.raises(Refusal) as refused:
        await bench.desk.approve(request.id, "UBOB")
    assert refused.value.code == "not_pending" and "expired" in refused.value.message
    assert [c for c in bench.sim.state.calls if c.route == "recovery"] == []


async def test_an_approval_counts_when_the_store_fails_under_its_submit_and_the_sweeper_submits_it(
    bench: Bench,
) -> None:
    request = await a_request(bench)

    async def submit_in_an_outage(approved: RestoreRequest) -> object:
        bench.store.available = False  # the database goes away between the approval and the submit
        return await bench.submitter.submit(approved)

    desk = bench.desk_submitting_with(submit_in_an_outage)
    await desk.approve(request.id, "UBOB")  # counted, raises nothing: not "nothing was recorded"
    bench.store.available = True
    approved = await bench.store.get(request.id)
    assert approved is not None and approved.state is S.APPROVED
    assert [c for c in bench.sim.state.calls if c.route == "recovery"] == []

    await bench.sweeper.step()
    assert bench.spawned == []  # its submitter may still be at it: not yet
    bench.clock.advance(timedelta(minutes=3))
    await bench.sweeper.step()
    await bench.settle()
    running = await bench.store.get(request.id)
    assert running is not None and running.state is S.RUNNING
    assert len([c for c in bench.sim.state.calls if c.route == "recovery"]) == 1


async def test_one_active_request_per_target_and_the_second_is_told_which(bench: Bench) -> None:
    first = await a_request(bench)
    with pytest.raises(Refusal) as caught:
        await a_request(bench)
    assert caught.value.message.endswith(f" is busy with {first.id} (pending).") and caught.value.field == TARGET
    assert [r.id for r in await bench.desk.recent()] == [first.id]


async def test_an_idle_follower_and_verifier_hold_no_lease(bench: Bench) -> None:
    """Nothing running or being verified: they read, and write nothing (no lease taken every poll)."""
    assert await bench.follower.step() == bench.follower.poll_interval
    assert await bench.verifier.step() == bench.verifier.poll_interval
    for lease in (FOLLOWER_LEASE, VERIFIER_LEASE):
        assert await bench.store.leases.holder(lease, now=bench.clock()) is None
