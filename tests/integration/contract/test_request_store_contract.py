"""The request repository's contract (bot.ports.RequestRepository), one set of tests for every implementation:
the in-memory store, and the SQL store on SQLite and on PostgreSQL (tests/integration/contract/conftest.py). Lifecycle moves
and their races, approvals and stages with their consequence, the target lock, the audit chain, the outbox and
its claims, leases, urgent reviews, the reads, and the DDM call budget's counters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import PersonError
from bot.ports import RequestRepository, TargetBusy
from bot.restore.flow import Flow, Stage
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice, Outgoing
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.review import Review
from bot.store.audit_chain import GENESIS_HASH, audit_hash
from bot.store.budget import BudgetTable
from bot.store.memory_queues import MemoryBudget
from bot.store.rows import ms
from tests.support.stores import NOW, TWO_STAGES, Heard, create, make_plan

S = RequestState


async def running(store: RequestRepository, request: RestoreRequest, job_id: str = "job-1") -> None:
    """Approved, submitted and its job named: through the table's own moves."""
    await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    await store.transition(request.id, Event.SUBMIT, actor="system", now=NOW)
    moved = await store.transition(request.id, Event.JOB_SUBMITTED, actor="system", now=NOW, values={"job_id": job_id})
    assert moved is not None and moved.state is S.RUNNING


# ---- create, the target lock, moves -------------------------------------------------------------------------


async def test_create_and_read_back(repo: RequestRepository) -> None:
    request = await create(repo)
    again = await repo.get(request.id)
    assert again == request
    assert again.state is S.PENDING
    assert again.fingerprint == make_plan().fingerprint()
    assert again.expires_at == NOW + timedelta(hours=1)
    assert await repo.get("R-000000") is None


async def test_one_active_request_per_target(repo: RequestRepository) -> None:
    first = await create(repo)
    with pytest.raises(TargetBusy) as caught:
        await create(repo)
    assert caught.value.holder.id == first.id
    assert isinstance(caught.value, PersonError)  # what a person asked for cannot be: told, nothing changed
    assert [r.id for r in await repo.recent()] == [first.id]
    # another target is fine; and once the first is final, its target is free again
    await create(repo, target="tgt2in09")
    assert await repo.transition(first.id, Event.CANCEL, actor="UALICE", now=NOW) is not None
    await create(repo)


async def test_racing_transitions_have_one_winner(repo: RequestRepository) -> None:
    request = await create(repo)
    results = await asyncio.gather(
        *[repo.transition(request.id, Event.REJECT, actor=f"U{i}", now=NOW) for i in range(20)]
    )
    assert sum(r is not None for r in results) == 1
    trail = await repo.audit_trail(request.id)
    assert [a.action for a in trail] == ["create", "reject"]


async def test_only_moves_of_the_lifecycle_table_are_applied(repo: RequestRepository) -> None:
    request = await create(repo)
    # PENDING has no SUBMIT move: a request that was never approved is never licensed to POST.
    assert await repo.transition(request.id, Event.SUBMIT, actor="system", now=NOW) is None
    assert await repo.transition(request.id, Event.JOB_COMPLETED, actor="system", now=NOW) is None
    assert await repo.transition("R-000000", Event.CANCEL, actor="system", now=NOW) is None
    current = await repo.get(request.id)
    assert current is not None and current.state is S.PENDING
    with pytest.raises(ValueError, match="cannot write"):
        await repo.transition(request.id, Event.CANCEL, actor="U", now=NOW, values={"state": "APPROVED"})
    assert [a.action for a in await repo.audit_trail(request.id)] == ["create"]
    assert [row.notice for row in await repo.outbox.pending(request.id)] == [Notice.CARD]


async def test_every_move_writes_its_notices_with_it(repo: RequestRepository) -> None:
    request = await create(repo)
    await repo.transition(request.id, Event.EXPIRE, actor="system", now=NOW)
    assert [row.notice for row in await repo.outbox.pending(request.id)] == [Notice.CARD, Notice.CARD, Notice.FINAL]
    await repo.notify(request.id, [Outgoing(Notice.FOLLOW_TROUBLE, {"problem": "x"})], now=NOW)
    assert (await repo.outbox.pending(request.id))[-1].params == {"problem": "x"}


async def test_a_move_writes_what_it_names_and_the_audit_keeps_its_context(repo: RequestRepository) -> None:
    request = await create(repo)
    await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    await repo.transition(request.id, Event.SUBMIT, actor="system", now=NOW, values={"submitted_ms": 1_795_000_000_123})
    failed = await repo.transition(
        request.id,
        Event.SUBMIT_FAILED,
        actor="system",
        now=NOW + timedelta(seconds=1),
        values={"error_code": "DBS.200022", "error_msg": "busy", "finished_ms": 1_795_000_001_000},
        details={"error_msg": "busy"},
    )
    assert failed is not None and failed.state is S.FAILED
    assert (failed.error_code, failed.error_msg) == ("DBS.200022", "busy")
    assert failed.submitted_at == datetime.fromtimestamp(1_795_000_000.123, UTC)
    assert failed.updated_at == NOW + timedelta(seconds=1)
    last = (await repo.audit_trail(request.id))[-1]
    assert (last.action, last.from_state, last.to_state) == ("submit_failed", "SUBMITTING", "FAILED")
    assert last.error_code == "DBS.200022" and last.details == {"error_msg": "busy"}


# ---- approvals --------------------------------------------------------------------------------------------------


async def test_approvals_are_unique_and_only_while_pending(repo: RequestRepository) -> None:
    request = await create(repo, required=2)
    first = await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    again = await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert (first.added, first.count, first.approved) == (True, 1, False)
    assert (again.added, again.count) == (False, 1)
    wrong = await repo.approve(request.id, user_id="UCAROL", fingerprint="0" * 64, now=NOW)
    assert not wrong.added
    late = await repo.approve(request.id, user_id="UDAN", fingerprint=request.fingerprint, now=NOW + timedelta(hours=2))
    assert not late.added
    await repo.transition(request.id, Event.REJECT, actor="UBOB", now=NOW)
    after = await repo.approve(request.id, user_id="UERIN", fingerprint=request.fingerprint, now=NOW)
    assert not after.added and after.count == 1


async def test_the_last_approval_moves_the_request_in_the_same_transaction(repo: RequestRepository) -> None:
    request = await create(repo, required=2)
    one = await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert not one.approved and one.request.state is S.PENDING
    two = await repo.approve(request.id, user_id="UCAROL", fingerprint=request.fingerprint, now=NOW)
    assert two.approved and two.request.state is S.APPROVED and two.count == 2
    trail = [(a.action, a.to_state) for a in await repo.audit_trail(request.id)]
    assert trail == [("create", "PENDING"), ("approve", "PENDING"), ("approve", "PENDING"), ("approved", "APPROVED")]
    assert (await repo.audit_trail(request.id))[-1].details == {"approvers": ["UBOB", "UCAROL"]}
    notices = [(row.notice, row.params.get("count")) for row in await repo.outbox.pending(request.id)]
    assert notices == [
        (Notice.CARD, None),
        (Notice.APPROVAL, 1),
        (Notice.CARD, None),
        (Notice.APPROVAL, 2),
        (Notice.CARD, None),
        (Notice.SUBMITTING, None),
    ]


async def test_concurrent_approvals_stop_at_the_required_count(repo: RequestRepository) -> None:
    request = await create(repo, required=3)
    outcomes = await asyncio.gather(
        *[repo.approve(request.id, user_id=f"U{i:02d}", fingerprint=request.fingerprint, now=NOW) for i in range(10)]
    )
    assert sum(o.added for o in outcomes) == 3
    assert sum(o.approved for o in outcomes) == 1
    final = await repo.get(request.id)
    assert final is not None and len(final.approvals) == 3 and final.state is S.APPROVED
    assert [a.action for a in await repo.audit_trail(request.id)].count("approve") == 3


async def test_stages_are_approved_in_order(repo: RequestRepository) -> None:
    request = await create(repo, flow=TWO_STAGES)
    fingerprint = request.fingerprint
    early = await repo.approve(request.id, user_id="UOWNER", fingerprint=fingerprint, now=NOW, stage=2)
    assert not early.added  # stage 1 is not complete yet
    lead = await repo.approve(
        request.id,
        user_id="UCAROL",
        fingerprint=fingerprint,
        now=NOW,
        stage=1,
        params={"stage_name": "DBA lead"},
    )
    assert lead.added and not lead.approved and lead.request.approvals[0].stage == 1
    second = await repo.approve(request.id, user_id="UERIN", fingerprint=fingerprint, now=NOW)
    assert second.added and not second.approved
    third = await repo.approve(request.id, user_id="UDAN", fingerprint=fingerprint, now=NOW)
    assert not third.added  # stage 1 has its two
    owner = await repo.approve(request.id, user_id="UOWNER", fingerprint=fingerprint, now=NOW, stage=2)
    assert owner.added and owner.approved and owner.request.state is S.APPROVED
    assert [a.stage for a in owner.request.approvals] == [1, 1, 2]
    approvals = [row.params for row in await repo.outbox.pending(request.id) if row.notice is Notice.APPROVAL]
    assert approvals[0] == {
        "user_id": "UCAROL",
        "count": 1,
        "required": 3,
        "stage": 1,
        "stage_count": 1,
        "stage_required": 2,
        "stage_done": 0,
        "stage_name": "DBA lead",
    }
    assert (approvals[1]["stage_done"], approvals[2]["stage"], approvals[2]["stage_done"]) == (1, 2, 1)
    assert [r.details for r in await repo.audit_trail(request.id) if r.action == "approve"] == [
        {"stage": 1},
        {"stage": 1},
        {"stage": 2},
    ]


async def test_the_flow_is_frozen_into_the_request_its_fingerprint_and_its_audit(repo: RequestRepository) -> None:
    request = await create(repo, flow=TWO_STAGES)
    again = await repo.get(request.id)
    assert again == request and again.flow == TWO_STAGES and again.required_approvals == 3
    # The fingerprint covers the flow: the same plan with another flow (or none) is another request.
    assert request.fingerprint == make_plan().fingerprint(flow=TWO_STAGES.identity()) != make_plan().fingerprint()
    assert request.fingerprint_matches_plan
    (record,) = await repo.audit_trail(request.id)
    assert record.details["flow"] == TWO_STAGES.identity()
    assert record.details["flow"]["rule"] == "old restore point"
    # Without a flow (requests made before flows were frozen): one stage of the required approvals.
    old = await create(repo, "tgt2in09", required=2)
    assert old.flow is None and old.fingerprint == make_plan("tgt2in09").fingerprint()
    first = await repo.approve(old.id, user_id="UBOB", fingerprint=old.fingerprint, now=NOW)
    assert first.added and not first.approved
    assert "flow" not in (await repo.audit_trail(old.id))[0].details


async def test_a_flow_is_frozen_once_into_a_pending_request_made_without_one(repo: RequestRepository) -> None:
    old = await create(repo, required=1)
    later = NOW + timedelta(minutes=5)
    backfilled = Flow(TWO_STAGES.stages, backfilled=True)
    frozen = await repo.freeze_flow(old.id, backfilled, now=later)
    assert frozen is not None and frozen == await repo.get(old.id)
    assert frozen.flow == backfilled and frozen.required_approvals == 3
    # Not in the fingerprint: approvals already given bound to the one it had.
    assert frozen.fingerprint == old.fingerprint and frozen.fingerprint_matches_plan
    record = (await repo.audit_trail(old.id))[-1]
    assert (record.action, record.actor, record.from_state, record.to_state) == (
        "flow_frozen",
        "system",
        "PENDING",
        "PENDING",
    )
    assert record.details == {"flow": backfilled.identity(), "backfilled": True} and record.at_ms == ms(later)
    # Once only, and only while pending.
    assert await repo.freeze_flow(old.id, Flow((Stage("x"),), backfilled=True), now=later) is None
    assert (await repo.get(old.id)).flow == backfilled  # type: ignore[union-attr]
    cancelled = await create(repo, "tgt2in09")
    await repo.transition(cancelled.id, Event.CANCEL, actor="UALICE", now=NOW)
    assert await repo.freeze_flow(cancelled.id, backfilled, now=later) is None
    assert (await repo.get(cancelled.id)).flow is None  # type: ignore[union-attr]
    # Its approvals follow the frozen stages now.
    lead = await repo.approve(old.id, user_id="UCAROL", fingerprint=old.fingerprint, now=later)
    assert lead.added and not lead.approved


async def test_what_approve_and_transition_return_is_what_the_store_holds(repo: RequestRepository) -> None:
    """The returned request is built from what was read and written, not read again: it must match."""
    request = await create(repo, required=2)
    one = await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert one.request == await repo.get(request.id)
    refused = await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    assert not refused.added and refused.request == await repo.get(request.id)
    two = await repo.approve(
        request.id, user_id="UCAROL", fingerprint=request.fingerprint, now=NOW + timedelta(seconds=1)
    )
    assert two.approved and two.request == await repo.get(request.id)
    assert two.request.approver_ids == ("UBOB", "UCAROL")
    submitting = await repo.transition(request.id, Event.SUBMIT, actor="system", now=NOW + timedelta(seconds=2))
    assert submitting is not None and submitting == await repo.get(request.id)
    moved = await repo.transition(
        request.id,
        Event.JOB_SUBMITTED,
        actor="system",
        now=NOW + timedelta(seconds=3),
        values={"job_id": "job-1", "submitted_ms": 1_795_000_000_123, "job_progress": 0},
    )
    assert moved is not None and moved == await repo.get(request.id)
    assert moved.job_id == "job-1" and moved.submitted_at is not None


# ---- card, progress, reads ----------------------------------------------------------------------------------


async def test_the_card_is_where_set_and_its_permalink_goes_into_later_records(repo: RequestRepository) -> None:
    request = await create(repo)
    await repo.set_message(request.id, channel_id="C2", message_ts="1700000000.000100", permalink="https://s/p1")
    placed = await repo.get(request.id)
    assert placed is not None and (placed.channel_id, placed.message_ts) == ("C2", "1700000000.000100")
    await repo.transition(request.id, Event.CANCEL, actor="UALICE", now=NOW)
    first, last = await repo.audit_trail(request.id)
    assert first.permalink is None and last.permalink == "https://s/p1"


async def test_progress_is_kept_while_running_and_redraws_the_card_when_it_changes(repo: RequestRepository) -> None:
    request = await create(repo)
    assert not await repo.set_progress(request.id, 10, now=NOW)  # not running
    await running(repo, request)
    before = len(await repo.outbox.pending(request.id))
    assert await repo.set_progress(request.id, 40, now=NOW)
    assert not await repo.set_progress(request.id, 40, now=NOW)
    after = await repo.outbox.pending(request.id)
    assert [row.notice for row in after[before:]] == [Notice.CARD]
    current = await repo.get(request.id)
    assert current is not None and current.job_progress == 40


async def test_the_reads(repo: RequestRepository) -> None:
    first = await create(repo, requester_id="UBOB", channel_id="C2")
    second = await create(repo, target="tgt2in09", now=NOW + timedelta(seconds=1))
    third = await create(repo, target="tgt3in09", now=NOW + timedelta(seconds=2))
    await running(repo, second, job_id="job-2")
    await repo.transition(third.id, Event.CANCEL, actor="UALICE", now=NOW)

    assert [r.id for r in await repo.recent()] == [third.id, second.id, first.id]
    assert [r.id for r in await repo.recent(2)] == [third.id, second.id]
    assert [r.id for r in await repo.recent(channel_id="C2")] == [first.id]
    assert [r.id for r in await repo.recent(requester_id="UALICE")] == [third.id, second.id]
    assert [r.id for r in await repo.in_states([S.PENDING, S.RUNNING])] == [first.id, second.id]
    assert await repo.in_states([S.COMPLETED]) == []
    found = await repo.find_by_job_id("job-2")
    assert found is not None and found.id == second.id and await repo.find_by_job_id("job-9") is None
    holder = await repo.active_for_target("tgt2in09")
    assert holder is not None and holder.id == second.id
    assert await repo.active_for_target("tgt3in09") is None  # cancelled: free
    assert await repo.count_by_state() == {"PENDING": 1, "RUNNING": 1, "CANCELLED": 1}


async def test_the_times_of_the_figures_are_stamped_and_kept(repo: RequestRepository) -> None:
    """approved_at is the move to APPROVED's own time, whoever makes it; the submit and the job's start are what
    their moves name; each reads back as written."""
    request = await create(repo, required=2)
    await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW + timedelta(minutes=1))
    one = await repo.get(request.id)
    assert one is not None and one.approved_at is None  # not approved yet: one of two
    two = await repo.approve(
        request.id, user_id="UCAROL", fingerprint=request.fingerprint, now=NOW + timedelta(minutes=7)
    )
    assert two.approved and two.request.approved_at == NOW + timedelta(minutes=7)
    await repo.transition(
        request.id,
        Event.SUBMIT,
        actor="system",
        now=NOW + timedelta(minutes=8),
        values={"submitted_ms": ms(NOW + timedelta(minutes=8))},
    )
    moved = await repo.transition(
        request.id,
        Event.JOB_SUBMITTED,
        actor="system",
        now=NOW + timedelta(minutes=9),
        values={"job_id": "job-1", "job_started_ms": ms(NOW + timedelta(minutes=8, seconds=30))},
    )
    assert moved is not None and moved == await repo.get(request.id)
    assert moved.approved_at == NOW + timedelta(minutes=7)
    assert moved.submitted_at == NOW + timedelta(minutes=8)
    assert moved.job_started_at == NOW + timedelta(minutes=8, seconds=30)
    assert moved.finished_at is None


async def test_finished_since_reads_the_requests_finished_in_a_window_in_the_order_they_finished(
    repo: RequestRepository,
) -> None:
    completed = await create(repo)
    failed = await create(repo, target="tgt2in09")
    still_running = await create(repo, target="tgt3in09")
    cancelled = await create(repo, target="tgt4in09")
    for each in (completed, still_running):
        await running(repo, each, job_id=f"job-{each.id}")
    await repo.transition(
        completed.id,
        Event.JOB_COMPLETED,
        actor="system",
        now=NOW + timedelta(hours=3),
        values={"finished_ms": ms(NOW + timedelta(hours=2))},  # the job's end as DDM says: before we heard
    )
    await repo.approve(failed.id, user_id="UBOB", fingerprint=failed.fingerprint, now=NOW)
    await repo.transition(
        failed.id,
        Event.REVALIDATION_FAILED,
        actor="system",
        now=NOW + timedelta(hours=1),
        values={"error_code": "PLAN_STALE", "finished_ms": ms(NOW + timedelta(hours=1))},
    )
    await repo.transition(cancelled.id, Event.CANCEL, actor="UALICE", now=NOW + timedelta(hours=1))

    assert [r.id for r in await repo.finished_since(NOW)] == [failed.id, completed.id]
    assert [r.id for r in await repo.finished_since(NOW + timedelta(hours=1))] == [failed.id, completed.id]
    found = await repo.finished_since(NOW + timedelta(hours=1, milliseconds=1))
    assert found == [await repo.get(completed.id)]  # whole requests, as `get` reads them
    assert await repo.finished_since(NOW + timedelta(hours=2, milliseconds=1)) == []


async def test_made_since_pages_the_requests_of_some_channels_newest_first(repo: RequestRepository) -> None:
    made = []
    for index in range(5):
        channel = "C1" if index != 2 else "C2"
        made.append(await create(repo, f"tgt{index}in09", now=NOW + timedelta(minutes=index), channel_id=channel))
    for request in made:  # none stays active: the targets are free again
        await repo.transition(request.id, Event.CANCEL, actor="UALICE", now=NOW + timedelta(hours=1))
    ids = [r.id for r in made]
    everything = await repo.made_since(NOW, limit=10)
    assert [r.id for r in everything.requests] == ids[::-1] and everything.total == 5
    first = await repo.made_since(NOW, channel_ids={"C1"}, limit=2)
    assert [r.id for r in first.requests] == [ids[4], ids[3]] and first.total == 4
    second = await repo.made_since(NOW, channel_ids={"C1"}, limit=2, offset=2)
    assert [r.id for r in second.requests] == [ids[1], ids[0]] and second.total == 4
    assert (await repo.made_since(NOW, channel_ids={"C1"}, limit=2, offset=4)).requests == []
    recent = await repo.made_since(NOW + timedelta(minutes=3), channel_ids={"C1", "C2"}, limit=10)
    assert [r.id for r in recent.requests] == [ids[4], ids[3]] and recent.total == 2
    assert (await repo.made_since(NOW, channel_ids=set(), limit=10)).total == 0
    # The requests come whole: their decisions and approvals, as get() reads them.
    assert everything.requests[0] == await repo.get(ids[4])


async def test_expiry_queries(repo: RequestRepository) -> None:
    soon = await create(repo, ttl=timedelta(minutes=1))
    await create(repo, target="tgt2in09", ttl=timedelta(hours=5))
    approved = await create(repo, target="tgt3in09", ttl=timedelta(seconds=30))
    await repo.approve(approved.id, user_id="UBOB", fingerprint=approved.fingerprint, now=NOW)
    assert await repo.due_for_expiry(NOW + timedelta(minutes=2)) == [soon.id]
    assert await repo.due_for_expiry(NOW) == []
    assert await repo.next_expiry() == NOW + timedelta(minutes=1)


async def test_changes_that_write_notices_say_so(repo: RequestRepository, heard: Heard) -> None:
    request = await create(repo)
    assert heard.notices == 1
    await repo.set_message(request.id, channel_id="C1", message_ts="1.2")
    assert await repo.transition(request.id, Event.SUBMIT, actor="system", now=NOW) is None
    await repo.approve(request.id, user_id="UBOB", fingerprint="0" * 64, now=NOW)
    assert heard.notices == 1  # nothing to tell
    await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    await repo.notify(request.id, [Outgoing(Notice.FOLLOW_TROUBLE)], now=NOW)
    assert heard.notices == 3


async def test_the_observers_hear_each_committed_change_of_state_once(repo: RequestRepository, heard: Heard) -> None:
    request = await create(repo, required=2)
    assert heard.changes == [("create", request.id, "PENDING")]
    await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)  # not added
    assert await repo.transition(request.id, Event.SUBMIT, actor="system", now=NOW) is None  # no such move
    assert len(heard.changes) == 1  # an approval short of the count changes no state
    await repo.approve(request.id, user_id="UCAROL", fingerprint=request.fingerprint, now=NOW)
    moves = [repo.transition(request.id, Event.SUBMIT, actor="system", now=NOW) for _ in range(3)]
    assert sum(moved is not None for moved in await asyncio.gather(*moves)) == 1
    assert heard.changes[1:] == [("approved", request.id, "APPROVED"), ("submit", request.id, "SUBMITTING")]


async def test_a_broken_observer_neither_undoes_the_change_nor_silences_the_others(
    repo: RequestRepository, heard: Heard
) -> None:
    heard.slipping = True
    request = await create(repo)
    moved = await repo.transition(request.id, Event.CANCEL, actor="UALICE", now=NOW)
    assert moved is not None and moved.state is S.CANCELLED
    stored = await repo.get(request.id)
    assert stored is not None and stored.state is S.CANCELLED
    assert heard.changes == [("create", request.id, "PENDING"), ("cancel", request.id, "CANCELLED")]


# ---- urgent reviews -----------------------------------------------------------------------------------------


async def test_an_urgent_requests_review_falls_due_with_its_end_is_reminded_once_and_done(
    repo: RequestRepository,
) -> None:
    review = Review(timedelta(hours=1), user_ids=frozenset({"UREV"}))
    request = await create(repo, review=review)
    assert (await repo.reviews.mark_reviewed(request.id, user_id="UREV", now=NOW)) is None  # not due yet
    await running(repo, request)
    verifying = await repo.transition(
        request.id, Event.JOB_COMPLETED, actor="system", now=NOW, values={"job_progress": 100}
    )
    assert verifying is not None and verifying.review is not None and verifying.review.due_at is None  # not over
    done = await repo.transition(request.id, Event.VERIFIED, actor="system", now=NOW, params={"checks": 0})
    assert done is not None and done.review is not None and done.review.due_at == NOW + timedelta(hours=1)
    assert done == await repo.get(request.id)
    trail = await repo.audit_trail(request.id)
    assert [(r.action, r.to_state) for r in trail[-2:]] == [("verified", "VERIFIED"), ("review_due", "VERIFIED")]
    due_ms = int((NOW + timedelta(hours=1)).timestamp() * 1000)
    assert trail[-1].details == {"review_due_ms": due_ms}
    tail = [(row.notice, row.params) for row in (await repo.outbox.pending(request.id))[-5:]]
    assert tail == [
        (Notice.CARD, {"checks": 0}),
        (Notice.FINAL, {"checks": 0}),
        (Notice.TARGET_ADDRESS, {"checks": 0}),
        (Notice.REVIEW_DUE, {"due_ms": due_ms}),
        (Notice.CARD, {"due_ms": due_ms}),
    ]

    assert await repo.reviews.overdue(NOW + timedelta(minutes=59)) == []
    late = NOW + timedelta(hours=2)
    assert await repo.reviews.overdue(late) == [request.id]
    reminded = await repo.reviews.remind(request.id, now=late)
    assert reminded is not None and reminded.review is not None and reminded.review.reminded_at == late
    assert await repo.reviews.remind(request.id, now=late) is None  # once
    assert await repo.reviews.overdue(late) == []

    reviewed = await repo.reviews.mark_reviewed(request.id, user_id="UREV", now=late)
    assert reviewed is not None and reviewed.review is not None and reviewed.review.reviewed_by == "UREV"
    assert reviewed == await repo.get(request.id)
    assert await repo.reviews.mark_reviewed(request.id, user_id="UREV", now=late) is None
    assert [r.action for r in (await repo.audit_trail(request.id))[-2:]] == ["review_reminder", "reviewed"]
    last = (await repo.outbox.pending(request.id))[-2:]
    assert [(row.notice, row.params) for row in last] == [
        (Notice.REVIEWED, {"user_id": "UREV"}),
        (Notice.CARD, {"user_id": "UREV"}),
    ]


# ---- the verification of a completed restore ----------------------------------------------------------------


async def test_a_verified_restore_holds_its_target_until_its_verdict_which_is_written_once(
    repo: RequestRepository,
) -> None:
    request = await create(repo)
    await running(repo, request)
    verifying = await repo.transition(request.id, Event.JOB_COMPLETED, actor="system", now=NOW)
    assert verifying is not None and verifying.state is S.VERIFYING and not verifying.is_final
    with pytest.raises(TargetBusy):
        await create(repo)  # the target is still being checked
    holder = await repo.active_for_target("tgt1in09")
    assert holder is not None and holder.id == request.id
    assert [r.id for r in await repo.in_states([S.VERIFYING])] == [request.id]

    verdicts = [
        repo.transition(request.id, Event.VERIFIED, actor="system", now=NOW, details={"status": "RUNNING"}),
        repo.transition(
            request.id,
            Event.VERIFY_FAILED,
            actor="system",
            now=NOW,
            values={"error_code": "VERIFY_FAILED", "error_msg": "orders restored: got 0, expected >= 1"},
        ),
    ]
    moved = [each for each in await asyncio.gather(*verdicts) if each is not None]
    assert len(moved) == 1 and moved[0].is_final  # two replicas' verdicts: one wins
    assert await repo.active_for_target("tgt1in09") is None
    assert sum(r.action in ("verified", "verify_failed") for r in await repo.audit_trail(request.id)) == 1
    if moved[0].state is S.VERIFY_FAILED:
        assert moved[0].error_msg == "orders restored: got 0, expected >= 1"
    await create(repo)  # free again


# ---- the audit chain --------------------------------------------------------------------------------------------


async def test_audit_chain_links_every_record(repo: RequestRepository) -> None:
    request = await create(repo)
    await repo.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
    other = await create(repo, target="tgt2in09", now=NOW + timedelta(minutes=1))
    trail = await repo.audit_trail()
    assert [r.seq for r in trail] == sorted(r.seq for r in trail) and len(trail) == 4
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
    assert [r.request_id for r in await repo.audit_trail(since=NOW + timedelta(seconds=30))] == [other.id]
    assert trail[0].details["plan"]["target"]["id"] == "tgt1in09" and trail[0].details["channel_id"] == "C1"


# ---- the outbox ---------------------------------------------------------------------------------------------


async def test_outbox_claims_keep_each_request_with_one_owner(repo: RequestRepository) -> None:
    first = await create(repo)
    second = await create(repo, target="tgt2in09")
    a_rows = await repo.outbox.claim("a", now=NOW, lease_seconds=30, requests=1)
    assert {row.request_id for row in a_rows} == {first.id} or {row.request_id for row in a_rows} == {second.id}
    b_rows = await repo.outbox.claim("b", now=NOW, lease_seconds=30)
    assert {row.request_id for row in a_rows}.isdisjoint(row.request_id for row in b_rows)
    # A notice added to a request "a" holds is not taken by "b": the request's order stays with one owner.
    held = a_rows[0].request_id
    await repo.notify(held, [Outgoing(Notice.FOLLOW_TROUBLE)], now=NOW)
    assert held not in {row.request_id for row in await repo.outbox.claim("b", now=NOW, lease_seconds=30)}
    # "a" dies: once its lease runs out, "b" gets everything of that request, in order, marked as retried.
    later = NOW + timedelta(seconds=31)
    taken = [row for row in await repo.outbox.claim("b", now=later, lease_seconds=30) if row.request_id == held]
    assert [row.notice for row in taken] == [Notice.CARD, Notice.FOLLOW_TROUBLE]
    assert [row.attempts for row in taken] == [2, 1]
    await repo.outbox.done([row.seq for row in taken], now=later)
    assert await repo.outbox.pending(held) == []


async def test_outbox_retry_later_holds_back_the_whole_request(repo: RequestRepository) -> None:
    request = await create(repo)
    rows = await repo.outbox.claim("a", now=NOW, lease_seconds=30)
    await repo.outbox.retry_later(request.id, "a", due=NOW + timedelta(seconds=60), error="ratelimited")
    await repo.notify(request.id, [Outgoing(Notice.FOLLOW_TROUBLE)], now=NOW + timedelta(seconds=1))
    assert await repo.outbox.claim("a", now=NOW + timedelta(seconds=30), lease_seconds=30) == []
    again = await repo.outbox.claim("b", now=NOW + timedelta(seconds=61), lease_seconds=30)
    assert next(row.seq for row in again) == rows[0].seq and len(again) == 2
    assert await repo.outbox.depth() == (2, int(NOW.timestamp() * 1000))


async def test_a_claim_renewed_in_time_is_kept_and_a_lost_one_is_not_renewed(repo: RequestRepository) -> None:
    request = await create(repo)
    assert await repo.outbox.claim("a", now=NOW, lease_seconds=30)
    assert await repo.outbox.renew(request.id, "a", now=NOW + timedelta(seconds=20), lease_seconds=30)
    assert await repo.outbox.claim("b", now=NOW + timedelta(seconds=40), lease_seconds=30) == []  # renewed: a's
    taken = await repo.outbox.claim("b", now=NOW + timedelta(seconds=51), lease_seconds=30)
    assert [row.request_id for row in taken] == [request.id]
    assert not await repo.outbox.renew(request.id, "a", now=NOW + timedelta(seconds=52), lease_seconds=30)


async def test_released_claims_are_taken_at_once_and_done_rows_never_again(repo: RequestRepository) -> None:
    request = await create(repo)
    assert await repo.outbox.depth() == (1, int(NOW.timestamp() * 1000))
    assert await repo.outbox.claim("a", now=NOW, lease_seconds=30)
    await repo.outbox.release("a")
    taken = await repo.outbox.claim("b", now=NOW, lease_seconds=30)
    assert [(row.request_id, row.attempts) for row in taken] == [(request.id, 2)]
    await repo.outbox.done([row.seq for row in taken], now=NOW)
    assert await repo.outbox.claim("c", now=NOW + timedelta(hours=1), lease_seconds=30) == []
    assert await repo.outbox.depth() == (0, None)


# ---- leases and the DDM call budget -------------------------------------------------------------------------


async def test_leases(repo: RequestRepository) -> None:
    leases = repo.leases
    assert await leases.take("follower", owner="a", now=NOW, seconds=30)
    assert not await leases.take("follower", owner="b", now=NOW + timedelta(seconds=10), seconds=30)
    assert await leases.take("follower", owner="a", now=NOW + timedelta(seconds=10), seconds=30)
    assert await leases.take("follower", owner="b", now=NOW + timedelta(seconds=41), seconds=30)
    await leases.release("follower", owner="a")  # not a's any more: no effect
    assert not await leases.take("follower", owner="a", now=NOW + timedelta(seconds=42), seconds=30)
    assert await leases.holder("follower", now=NOW + timedelta(seconds=42)) == "b"
    assert await leases.holder("follower", now=NOW + timedelta(seconds=72)) is None  # ran out
    await leases.release("follower", owner="b")
    assert await leases.take("follower", owner="a", now=NOW + timedelta(seconds=43), seconds=30)
    results = await asyncio.gather(*[leases.take("other", owner=f"o{i}", now=NOW, seconds=5) for i in range(8)])
    assert results.count(True) == 1


MINUTE = 1_795_999_980_000  # a minute's start, epoch ms


async def test_budget_counters_count_all_or_nothing_up_to_the_limit(counters: BudgetTable | MemoryBudget) -> None:
    assert [await counters.take("ak-1", MINUTE, 3) for _ in range(4)] == [True, True, True, False]
    assert await counters.used("ak-1", MINUTE) == 3
    assert await counters.take("ak-1", MINUTE + 60_000, 5, count=4)
    assert not await counters.take("ak-1", MINUTE + 60_000, 5, count=2)  # 2 would pass the limit: none counted
    assert await counters.used("ak-1", MINUTE + 60_000) == 4
    assert not await counters.take("ak-2", MINUTE, 3, count=4) and not await counters.take("ak-2", MINUTE, 0)
    assert await counters.used("ak-2", MINUTE) == 0
    racing = await asyncio.gather(*[counters.take("ak-3", MINUTE, 10) for _ in range(30)])
    assert sum(racing) == 10
    assert await counters.prune(MINUTE + 60_000) == 2  # ak-1's and ak-3's first minute
    assert await counters.used("ak-1", MINUTE) == 0 and await counters.used("ak-1", MINUTE + 60_000) == 4
