"""RequestStore on both engines: conditional transitions, approvals, target lock, audit chain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

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


async def create(store: RequestStore, target: str = "tgt1in09", ttl: timedelta = timedelta(hours=1)):  # type: ignore[no-untyped-def]
    return await store.create(
        plan=make_plan(target),
        requester_id="UALICE",
        channel_id="C1",
        required_approvals=1,
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
    await store.transition(
        first.id,
        from_states=[RequestState.PENDING],
        to=RequestState.CANCELLED,
        actor="UALICE",
        action="cancel",
        now=NOW,
    )
    await create(store)


async def test_racing_transitions_have_one_winner(store: RequestStore) -> None:
    request = await create(store)
    results = await asyncio.gather(
        *[
            store.transition(
                request.id,
                from_states=[RequestState.PENDING],
                to=RequestState.APPROVED,
                actor=f"U{i}",
                action="approve",
                now=NOW,
            )
            for i in range(20)
        ]
    )
    assert sum(r is not None for r in results) == 1
    trail = await store.audit_trail(request.id)
    assert [a.action for a in trail] == ["create", "approve"]


async def test_approvals_are_unique_and_only_while_pending(store: RequestStore) -> None:
    request = await create(store)
    first = await store.add_approval(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    again = await store.add_approval(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert (first.added, first.count) == (True, 1)
    assert (again.added, again.count) == (False, 1)
    wrong = await store.add_approval(request.id, user_id="UCAROL", fingerprint="0" * 64, now=NOW)
    assert not wrong.added
    late = await store.add_approval(
        request.id, user_id="UDAN", fingerprint=request.fingerprint, now=NOW + timedelta(hours=2)
    )
    assert not late.added
    await store.transition(
        request.id, from_states=[RequestState.PENDING], to=RequestState.REJECTED, actor="UBOB", action="reject", now=NOW
    )
    after = await store.add_approval(request.id, user_id="UERIN", fingerprint=request.fingerprint, now=NOW)
    assert not after.added and after.count == 1


async def test_concurrent_approvals_stop_at_the_required_count(store: RequestStore) -> None:
    request = await store.create(
        plan=make_plan(),
        requester_id="UALICE",
        channel_id="C1",
        required_approvals=3,
        now=NOW,
        expires_at=NOW + timedelta(hours=1),
    )
    outcomes = await asyncio.gather(
        *[
            store.add_approval(request.id, user_id=f"U{i:02d}", fingerprint=request.fingerprint, now=NOW)
            for i in range(10)
        ]
    )
    assert sum(o.added for o in outcomes) == 3
    final = await store.get(request.id)
    assert final is not None and len(final.approvals) == 3
    assert [a.action for a in await store.audit_trail(request.id)].count("approve") == 3


async def test_expiry_query_and_final_notice_claim(store: RequestStore) -> None:
    soon = await create(store, ttl=timedelta(minutes=1))
    await create(store, target="tgt2in09", ttl=timedelta(hours=5))
    assert await store.due_for_expiry(NOW + timedelta(minutes=2)) == [soon.id]
    assert await store.next_expiry() == NOW + timedelta(minutes=1)
    claims = await asyncio.gather(*[store.claim_final_notice(soon.id, NOW) for _ in range(5)])
    assert claims.count(True) == 1


async def test_leases(store: RequestStore) -> None:
    request = await create(store)
    assert await store.take_lease(request.id, owner="a", now=NOW, seconds=30)
    assert not await store.take_lease(request.id, owner="b", now=NOW + timedelta(seconds=10), seconds=30)
    assert await store.take_lease(request.id, owner="a", now=NOW + timedelta(seconds=10), seconds=30)
    assert await store.take_lease(request.id, owner="b", now=NOW + timedelta(seconds=41), seconds=30)
    await store.release_lease(request.id, owner="a")  # not a's any more: no effect
    assert not await store.take_lease(request.id, owner="a", now=NOW + timedelta(seconds=42), seconds=30)


async def test_audit_chain_links_every_record(store: RequestStore) -> None:
    request = await create(store)
    await store.add_approval(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    await store.transition(
        request.id,
        from_states=[RequestState.PENDING],
        to=RequestState.APPROVED,
        actor="UBOB",
        action="approved",
        now=NOW,
    )
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
