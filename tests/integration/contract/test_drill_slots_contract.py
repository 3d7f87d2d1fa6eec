"""Drill slots on every store (memory, SQLite, PostgreSQL): a slot is claimed once, with the request made for it
in one change; a racing claim makes nothing; `auto` drills' requests are made approved by the file."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.ports import RequestRepository, SlotTaken, TargetBusy
from bot.restore.drills import Outcome, SlotClaim
from bot.restore.request import RequestState, RestoreRequest
from tests.support.stores import NOW, Heard, make_plan

SLOT = NOW.replace(minute=0)
AUTO = SlotClaim("orders weekly", SLOT, approved_by="drill:orders weekly", details=(("config_sha256", "ab" * 32),))


async def make(repo: RequestRepository, claim: SlotClaim, target: str = "tgt1in09") -> RestoreRequest:
    return await repo.create(
        plan=make_plan(target),
        requester_id=claim.approved_by or "drill",
        channel_id="C1",
        required_approvals=1,
        now=NOW,
        expires_at=NOW + timedelta(hours=1),
        claim=claim,
    )


async def test_a_slot_makes_one_request_and_a_second_claim_nothing(repo: RequestRepository, heard: Heard) -> None:
    request = await make(repo, AUTO)
    assert request.state is RequestState.APPROVED  # the file approved it
    with pytest.raises(SlotTaken):
        await make(repo, AUTO, target="tgt2in09")  # another target: only the slot stands in its way
    assert [r.id for r in await repo.recent()] == [request.id]
    latest = await repo.drills.latest("orders weekly")
    assert latest is not None
    assert (latest.slot, latest.outcome, latest.request_id) == (SLOT, Outcome.REQUESTED, request.id)
    trail = await repo.audit_trail(request.id)
    assert [(r.action, r.actor, r.to_state) for r in trail] == [
        ("create", "drill:orders weekly", "PENDING"),
        ("approved", "drill:orders weekly", "APPROVED"),
    ]
    assert trail[1].details["config_sha256"] == "ab" * 32 and trail[1].details["drill"] == "orders weekly"
    assert [c[0] for c in heard.changes] == ["create", "approved"]
    # The next slot is free; a drill with stages makes a PENDING request.
    later = await make(repo, SlotClaim("orders weekly", SLOT + timedelta(minutes=1)), target="tgt3in09")
    assert later.state is RequestState.PENDING


async def test_racing_claims_of_one_slot_make_one_request(repo: RequestRepository) -> None:
    results = await asyncio.gather(*(make(repo, AUTO, target=f"tgt{n}in09") for n in range(4)), return_exceptions=True)
    made = [r for r in results if isinstance(r, RestoreRequest)]
    assert len(made) == 1 and all(isinstance(r, SlotTaken) for r in results if r not in made)
    assert len(await repo.recent()) == 1


async def test_a_busy_target_claims_no_slot(repo: RequestRepository) -> None:
    await make(repo, SlotClaim("other", SLOT))
    with pytest.raises(TargetBusy):
        await make(repo, AUTO)
    assert await repo.drills.latest("orders weekly") is None
    assert (await make(repo, AUTO, target="tgt2in09")).state is RequestState.APPROVED


async def test_outcomes_without_a_request_are_recorded_once(repo: RequestRepository) -> None:
    assert await repo.drills.record("d", SLOT, Outcome.NO_TARGET, now=NOW, detail="pool used up")
    assert not await repo.drills.record("d", SLOT, Outcome.MISSED, now=NOW)
    assert await repo.drills.record("d", SLOT - timedelta(minutes=5), Outcome.MISSED, now=NOW)
    latest = await repo.drills.latest("d")
    assert latest is not None
    assert (latest.slot, latest.outcome, latest.detail, latest.request_id) == (SLOT, "no_target", "pool used up", None)
    with pytest.raises(SlotTaken):
        await make(repo, SlotClaim("d", SLOT))
    assert await repo.drills.latest("nobody") is None
    recent = await repo.drills.recent("d", 5)
    assert [(r.slot, r.outcome) for r in recent] == [(SLOT, "no_target"), (SLOT - timedelta(minutes=5), "missed")]
    assert [r.slot for r in await repo.drills.recent("d", 1)] == [SLOT]


async def test_each_slot_keeps_the_targets_left_it_found(repo: RequestRepository) -> None:
    """Any replica shows what the newest slot found, whichever replica claimed it (None: DDM was not asked)."""
    await make(repo, SlotClaim("orders weekly", SLOT, targets_left=2))
    assert await repo.drills.record("orders weekly", SLOT + timedelta(minutes=1), Outcome.MISSED, now=NOW)
    assert await repo.drills.record(
        "orders weekly", SLOT + timedelta(minutes=2), Outcome.NO_TARGET, now=NOW, targets_left=0
    )
    recent = await repo.drills.recent("orders weekly", 5)
    assert [(r.outcome, r.targets_left) for r in recent] == [("no_target", 0), ("missed", None), ("requested", 2)]
