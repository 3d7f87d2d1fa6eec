"""Reminders and escalations in the request repository: each written once, with its notice and audit record, and
only while its stage is the current one of a pending request (memory, SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.ports import RequestRepository
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice
from bot.restore.reminders import Due, Kind, ReminderRule
from bot.restore.request import RequestState
from tests.support.stores import NOW, TWO_STAGES, create

RULE = ReminderRule(
    remind_after=timedelta(minutes=15),
    repeat_every=timedelta(minutes=30),
    escalate_after=timedelta(minutes=45),
    escalate_user_ids=frozenset({"UONCALL"}),
    escalate_group_ids=frozenset({"S0ONCALL"}),
)
PARAMS = {"stage_name": "DBA lead", "waited_min": 15, "users": "", "groups": "SLEADS"}
LATER = NOW + timedelta(minutes=16)


async def test_racing_replicas_write_a_reminder_once(repo: RequestRepository) -> None:
    request = await create(repo, flow=TWO_STAGES)
    first = Due(1, Kind.REMINDER, 1)
    results = await asyncio.gather(
        *[repo.reminders.remind(request.id, first, rule=RULE, params=PARAMS, now=LATER) for _ in range(5)]
    )
    assert sum(result is not None for result in results) == 1
    again = await repo.reminders.remind(request.id, first, rule=RULE, params=PARAMS, now=LATER)
    assert again is None
    notices = [row for row in await repo.outbox.pending(request.id) if row.notice is Notice.REMINDER]
    assert [row.params for row in notices] == [{"stage": 1, "number": 1, **PARAMS}]
    records = [r for r in await repo.audit_trail(request.id) if r.action == "remind"]
    assert len(records) == 1 and records[0].details == {"stage": 1, "number": 1, **PARAMS}
    stored = await repo.get(request.id)
    assert stored is not None and stored.reminders is not None and stored.reminders.reminders == 1
    # The next period's is a new key.
    assert (
        await repo.reminders.remind(request.id, Due(1, Kind.REMINDER, 2), rule=RULE, params=PARAMS, now=LATER)
        is not None
    )


async def test_the_escalation_is_stored_with_who_may_approve_the_stage(repo: RequestRepository) -> None:
    request = await create(repo, flow=TWO_STAGES)
    escalation = Due(1, Kind.ESCALATION)
    escalated = await repo.reminders.remind(request.id, escalation, rule=RULE, params=PARAMS, now=LATER)
    assert escalated is not None and escalated.escalated_to == (frozenset({"UONCALL"}), frozenset({"S0ONCALL"}))
    assert await repo.reminders.remind(request.id, escalation, rule=RULE, params=PARAMS, now=LATER) is None
    stored = await repo.get(request.id)
    assert stored is not None and stored.escalated_to == escalated.escalated_to
    # Stage 1 done: the escalation was stage 1's, stage 2 is not escalated.
    for user in ("UCAROL", "UERIN"):
        await repo.approve(request.id, user_id=user, fingerprint=request.fingerprint, now=LATER, stage=1)
    moved_on = await repo.get(request.id)
    assert moved_on is not None and moved_on.escalated_to is None


async def test_nothing_is_written_once_the_stage_moved_on_or_the_request_ended(repo: RequestRepository) -> None:
    request = await create(repo, flow=TWO_STAGES)
    for user in ("UCAROL", "UERIN"):
        await repo.approve(request.id, user_id=user, fingerprint=request.fingerprint, now=NOW, stage=1)
    stale = Due(1, Kind.REMINDER, 1)
    assert await repo.reminders.remind(request.id, stale, rule=RULE, params=PARAMS, now=LATER) is None
    assert (
        await repo.reminders.remind(request.id, Due(2, Kind.REMINDER, 1), rule=RULE, params=PARAMS, now=LATER)
        is not None
    )
    cancelled = await repo.transition(request.id, Event.CANCEL, actor="UALICE", now=LATER)
    assert cancelled is not None and cancelled.state is RequestState.CANCELLED
    assert (
        await repo.reminders.remind(request.id, Due(2, Kind.REMINDER, 2), rule=RULE, params=PARAMS, now=LATER) is None
    )
    expired = await create(repo, target="tgt2in09", flow=TWO_STAGES, ttl=timedelta(minutes=10))
    assert (
        await repo.reminders.remind(expired.id, Due(1, Kind.REMINDER, 1), rule=RULE, params=PARAMS, now=LATER) is None
    )
    reminded = [r.action for r in await repo.audit_trail() if r.action in ("remind", "escalate")]
    assert reminded == ["remind"]


async def test_racing_nudges_write_one_and_the_cooldown_holds(repo: RequestRepository) -> None:
    request = await create(repo, flow=TWO_STAGES)
    cooldown = timedelta(minutes=15)
    results = await asyncio.gather(
        *[
            repo.reminders.nudge(request.id, user_id="UALICE", cooldown=cooldown, params=PARAMS, now=NOW)
            for _ in range(5)
        ]
    )
    assert sum(result is not None for result in results) == 1
    soon = NOW + timedelta(minutes=14)
    assert await repo.reminders.nudge(request.id, user_id="UALICE", cooldown=cooldown, params=PARAMS, now=soon) is None
    assert await repo.reminders.nudge(request.id, user_id="UBOB", cooldown=cooldown, params=PARAMS, now=LATER) is None
    later = await repo.reminders.nudge(request.id, user_id="UALICE", cooldown=cooldown, params=PARAMS, now=LATER)
    assert later is not None and later.nudged_at == LATER
    nudges = [row.params for row in await repo.outbox.pending(request.id) if row.notice is Notice.NUDGE]
    assert nudges == [{**PARAMS, "user_id": "UALICE"}] * 2
    assert [r.actor for r in await repo.audit_trail(request.id) if r.action == "nudge"] == ["UALICE", "UALICE"]
