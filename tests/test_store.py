"""RequestStore on both engines: lifecycle moves, approvals with their consequence, target lock, audit chain,
outbox and leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.restore.lifecycle import Event
from bot.restore.notices import Notice, Outgoing
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState
from bot.store.requests import GENESIS_HASH, RequestStore, TargetBusy, audit_hash

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def make_plan(target: str = "tgt1in09", time_ms: int = 1_795_000_000_000) -> RestorePlan:
    return RestorePlan(
        project_id="p1",
        source=NamedRef(id="srcin09", name="orders-prod"),
        target=NamedRef(id=target, name="orders-restore-1"),
        restore_time_ms=time_ms,
        mappings=(DataNodeMapping(source=NamedRef(id="s1in01", name="rds-0"), target=NamedRef(id="t1in01")),),
    )


async def create(store: RequestStore, target: str = "tgt1in09", ttl: timedelta = timedelta(hours=1), required: int = 1):  # type: ignore[no-untyped-def]
    return await store.create(
        plan=make_plan(target),
        requester_id="UALICE",
        channel_id="C1",
        required_approvals=required,
        now=NOW,
        expires_at=NOW + ttl,
    )


async def test_create_and_read_back(store: RequestStore) -> None:
    request = await create(store)
    again = await store.get(request.id)
    assert again == request
    assert again.state is RequestState.PENDING
    assert again.fingerprint == make_plan().fingerprint()
    assert again.expires_at == NOW + timedelta(hours=1)


async def test_one_active_request_per_target(store: RequestStore) -> None:
    first = await create(store)
    with pytest.raises(TargetBusy) as caught:
        await create(store)
    assert caught.value.holder.id == first.id
    # another target is fine; and once the first is final, its target is free again
    await create(store, target="tgt2in09")
    assert await store.transition(first.id, Event.CANCEL, actor="UALICE", now=NOW) is not None
    await create(store)


async def test_racing_transitions_have_one_winner(store: RequestStore) -> None:
    request = await create(store)
    results = await asyncio.gather(
        *[store.transition(request.id, Event.REJECT, actor=f"U{i}", now=NOW) for i in range(20)]
    )
    assert sum(r is not None for r in results) == 1
    trail = await store.audit_trail(request.id)
    assert [a.action for a in trail] == ["create", "reject"]


async def test_only_moves_of_the_lifecycle_table_are_applied(store: RequestStore) -> None:
    request = await create(store)
    # PENDING has no SUBMIT move: a request that was never approved is never licensed to POST.
    assert await store.transition(request.id, Event.SUBMIT, actor="system", now=NOW) is None
    assert await store.transition(request.id, Event.JOB_COMPLETED, actor="system", now=NOW) is None
    current = await store.get(request.id)
    assert current is not None and current.state is RequestState.PENDING
    with pytest.raises(ValueError, match="cannot write"):
        await store.transition(request.id, Event.CANCEL, actor="U", now=NOW, values={"state": "APPROVED"})
    assert [a.action for a in await store.audit_trail(request.id)] == ["create"]


async def test_approvals_are_unique_and_only_while_pending(store: RequestStore) -> None:
    request = await create(store, required=2)
    first = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    again = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert (first.added, first.count, first.approved) == (True, 1, False)
    assert (again.added, again.count) == (False, 1)
    wrong = await store.approve(request.id, user_id="UCAROL", fingerprint="0" * 64, now=NOW)
    assert not wrong.added
    late = await store.approve(
        request.id, user_id="UDAN", fingerprint=request.fingerprint, now=NOW + timedelta(hours=2)
    )
    assert not late.added
    await store.transition(request.id, Event.REJECT, actor="UBOB", now=NOW)
    after = await store.approve(request.id, user_id="UERIN", fingerprint=request.fingerprint, now=NOW)
    assert not after.added and after.count == 1


async def test_the_last_approval_moves_the_request_in_the_same_transaction(store: RequestStore) -> None:
    request = await create(store, required=2)
    one = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert not one.approved and one.request.state is RequestState.PENDING
    two = await store.approve(request.id, user_id="UCAROL", fingerprint=request.fingerprint, now=NOW)
    assert two.approved and two.request.state is RequestState.APPROVED and two.count == 2
    trail = [(a.action, a.to_state) for a in await store.audit_trail(request.id)]
    assert trail == [("create", "PENDING"), ("approve", "PENDING"), ("approve", "PENDING"), ("approved", "APPROVED")]
    notices = [(row.notice, row.params.get("count")) for row in await store.outbox.pending(request.id)]
    assert notices == [
        (Notice.CARD, None),
        (Notice.APPROVAL, 1),
        (Notice.CARD, None),
        (Notice.APPROVAL, 2),
        (Notice.CARD, None),
        (Notice.SUBMITTING, None),
    ]


async def test_concurrent_approvals_stop_at_the_required_count(store: RequestStore) -> None:
    request = await create(store, required=3)
    outcomes = await asyncio.gather(
        *[store.approve(request.id, user_id=f"U{i:02d}", fingerprint=request.fingerprint, now=NOW) for i in range(10)]
    )
    assert sum(o.added for o in outcomes) == 3
    assert sum(o.approved for o in outcomes) == 1
    final = await store.get(request.id)
    assert final is not None and len(final.approvals) == 3 and final.state is RequestState.APPROVED
    assert [a.action for a in await store.audit_trail(request.id)].count("approve") == 3


async def test_expiry_queries(store: RequestStore) -> None:
    soon = await create(store, ttl=timedelta(minutes=1))
    await create(store, target="tgt2in09", ttl=timedelta(hours=5))
    assert await store.due_for_expiry(NOW + timedelta(minutes=2)) == [soon.id]
    assert await store.next_expiry() == NOW + timedelta(minutes=1)


async def test_every_move_writes_its_notices_with_it(store: RequestStore) -> None:
    request = await create(store)
    await store.transition(request.id, Event.EXPIRE, actor="system", now=NOW)
    assert [row.notice for row in await store.outbox.pending(request.id)] == [Notice.CARD, Notice.CARD, Notice.FINAL]
    await store.notify(request.id, [Outgoing(Notice.FOLLOW_TROUBLE, {"problem": "x"})], now=NOW)
    assert (await store.outbox.pending(request.id))[-1].params == {"problem": "x"}


async def test_outbox_claims_keep_each_request_with_one_owner(store: RequestStore) -> None:
    first = await create(store)
    second = await create(store, target="tgt2in09")
    a_rows = await store.outbox.claim("a", now=NOW, lease_seconds=30, requests=1)
    assert {row.request_id for row in a_rows} == {first.id} or {row.request_id for row in a_rows} == {second.id}
    b_rows = await store.outbox.claim("b", now=NOW, lease_seconds=30)
    assert {row.request_id for row in a_rows}.isdisjoint(row.request_id for row in b_rows)
    # A notice added to a request "a" holds is not taken by "b": the request's order stays with one owner.
    held = a_rows[0].request_id
    await store.notify(held, [Outgoing(Notice.FOLLOW_TROUBLE)], now=NOW)
    assert held not in {row.request_id for row in await store.outbox.claim("b", now=NOW, lease_seconds=30)}
    # "a" dies: once its lease runs out, "b" gets everything of that request, in order, marked as retried.
    later = NOW + timedelta(seconds=31)
    taken = [row for row in await store.outbox.claim("b", now=later, lease_seconds=30) if row.request_id == held]
    assert [row.notice for row in taken] == [Notice.CARD, Notice.FOLLOW_TROUBLE]
    assert [row.attempts for row in taken] == [2, 1]
    await store.outbox.done([row.seq for row in taken], now=later)
    assert await store.outbox.pending(held) == []


async def test_outbox_retry_later_holds_back_the_whole_request(store: RequestStore) -> None:
    request = await create(store)
    rows = await store.outbox.claim("a", now=NOW, lease_seconds=30)
    await store.outbox.retry_later(request.id, "a", due=NOW + timedelta(seconds=60), error="ratelimited")
    await store.notify(request.id, [Outgoing(Notice.FOLLOW_TROUBLE)], now=NOW + timedelta(seconds=1))
    assert await store.outbox.claim("a", now=NOW + timedelta(seconds=30), lease_seconds=30) == []
    again = await store.outbox.claim("b", now=NOW + timedelta(seconds=61), lease_seconds=30)
    assert next(row.seq for row in again) == rows[0].seq and len(again) == 2
    assert await store.outbox.depth() == (2, int(NOW.timestamp() * 1000))


async def test_leases(store: RequestStore) -> None:
    leases = store.leases
    assert await leases.take("follower", owner="a", now=NOW, seconds=30)
    assert not await leases.take("follower", owner="b", now=NOW + timedelta(seconds=10), seconds=30)
    assert await leases.take("follower", owner="a", now=NOW + timedelta(seconds=10), seconds=30)
    assert await leases.take("follower", owner="b", now=NOW + timedelta(seconds=41), seconds=30)
    await leases.release("follower", owner="a")  # not a's any more: no effect
    assert not await leases.take("follower", owner="a", now=NOW + timedelta(seconds=42), seconds=30)
    assert await leases.holder("follower", now=NOW + timedelta(seconds=42)) == "b"
    results = await asyncio.gather(*[leases.take("other", owner=f"o{i}", now=NOW, seconds=5) for i in range(8)])
    assert results.count(True) == 1


async def test_audit_chain_links_every_record(store: RequestStore) -> None:
    request = await create(store)
    await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    trail = await store.audit_trail()
    assert trail[0].prev_hash == GENESIS_HASH
    for before, record in zip([None, *trail], trail, strict=False):
        if before is not None:
            assert record.prev_hash == before.hash
        body = {
            "at_ms": record.at_ms,
            "request_id": record.request_id,
            "actor": record.actor,
            "action": record.action,
            "from_state": record.from_state,
            "to_state": record.to_state,
            "fingerprint": record.fingerprint,
            "details": record.details,
        }
        assert record.hash == audit_hash(record.prev_hash, body)


async def test_what_approve_and_transition_return_is_what_the_database_holds(store: RequestStore) -> None:
    """The store builds the returned request from what it read and wrote instead of reading it again."""
    request = await create(store, required=2)
    one = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert one.request == await store.get(request.id)
    refused = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert not refused.added and refused.request == await store.get(request.id)
    two = await store.approve(
        request.id, user_id="UCAROL", fingerprint=request.fingerprint, now=NOW + timedelta(seconds=1)
    )
    assert two.approved and two.request == await store.get(request.id)
    assert two.request.approver_ids == ("UBOB", "UCAROL")
    submitting = await store.transition(request.id, Event.SUBMIT, actor="system", now=NOW + timedelta(seconds=2))
    assert submitting is not None and submitting == await store.get(request.id)
    running = await store.transition(
        request.id,
        Event.JOB_SUBMITTED,
        actor="system",
        now=NOW + timedelta(seconds=3),
        values={"job_id": "job-1", "submitted_ms": 1_795_000_000_123, "job_progress": 0},
    )
    assert running is not None and running == await store.get(request.id)
    assert running.job_id == "job-1" and running.submitted_at is not None


async def test_the_chain_head_is_the_last_record_after_concurrent_appends_from_two_stores(
    store: RequestStore, database_url: str
) -> None:
    """Two stores (as two replicas) creating, approving and cancelling at once: every record chains onto the
    one before it, and the head table names the newest record."""
    from sqlalchemy import select

    from bot.store import schema
    from bot.store.audit import verify_chain

    other = RequestStore.from_url(database_url)
    try:

        async def work(each: RequestStore, tag: str) -> None:
            for i in range(6):
                request = await create(each, target=f"{tag}-{i}", required=1 + i % 2)
                await each.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
                if i % 2:
                    await each.transition(request.id, Event.CANCEL, actor="UALICE", now=NOW)

        await asyncio.gather(*[work(each, f"{tag}{n}") for n in range(3) for each, tag in ((store, "a"), (other, "b"))])
        result = await verify_chain(store)
        trail = await store.audit_trail()
        # per worker: 6 creates, 3 approvals that move (2 records each), 3 that do not and 3 cancels
        assert result.ok and result.count == len(trail) == 6 * 18
        async with store.reader.connect() as conn:
            head = (await conn.execute(select(schema.audit_head))).one()
        assert (head.seq, head.hash) == (trail[-1].seq, trail[-1].hash) == (result.last_seq, result.last_hash)
    finally:
        await other.close()


async def test_a_claim_renewed_in_time_is_kept_and_a_lost_one_is_not_renewed(store: RequestStore) -> None:
    request = await create(store)
    assert await store.outbox.claim("a", now=NOW, lease_seconds=30)
    assert await store.outbox.renew(request.id, "a", now=NOW + timedelta(seconds=20), lease_seconds=30)
    assert await store.outbox.claim("b", now=NOW + timedelta(seconds=40), lease_seconds=30) == []  # renewed: a's
    taken = await store.outbox.claim("b", now=NOW + timedelta(seconds=51), lease_seconds=30)
    assert [row.request_id for row in taken] == [request.id]
    assert not await store.outbox.renew(request.id, "a", now=NOW + timedelta(seconds=52), lease_seconds=30)
