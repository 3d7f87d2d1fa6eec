"""What a reminder, an escalation or a requester's nudge writes on a waiting request (bot.workflow.remind), as
data for both repositories, like the other changes (bot.store.changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.reminders import Due, Kind, ReminderRule, Sent
from bot.restore.request import SYSTEM, RequestState
from bot.store.audit_chain import audit_record
from bot.store.changes import Effects, stage_rule
from bot.store.rows import LockedRequest


def may_remind(locked: LockedRequest, due: Due, *, now_ms: int) -> bool:
    """May `due` be sent? The request is PENDING and unexpired, `due`'s stage is still the current one (under the
    request's lock: an approval that moved it on wins) and it was not sent yet (by this replica or another)."""
    row = locked.values
    return (
        row["state"] == RequestState.PENDING.value
        and row["expires_ms"] > now_ms
        and stage_rule(locked).current(locked.approvals) == due.stage
        and due.sendable(Sent.from_json(row.get("reminders_json")))
    )


def remind_changes(locked: LockedRequest, due: Due, rule: ReminderRule) -> dict[str, Any]:
    """What sending `due` writes on the row: what was sent for the stage, now with it."""
    sent = Sent.from_json(locked.values.get("reminders_json")) or Sent(due.stage)
    return {"reminders_json": due.after(sent, rule).to_json()}


def write_reminder(
    locked: LockedRequest, due: Due, changes: Mapping[str, Any], effects: Effects, params: Mapping[str, ParamValue]
) -> LockedRequest:
    """The audit record and the notice of `due`, just recorded on the row; returns the request as changed."""
    state = locked.values["state"]
    effects.records.append(
        audit_record(
            request_id=locked.values["id"],
            actor=SYSTEM,
            action="remind" if due.kind is Kind.REMINDER else "escalate",
            from_state=state,
            to_state=state,
            fingerprint=locked.values["fingerprint"],
            details={"stage": due.stage, "number": due.number, **dict(params)},
            at_ms=effects.now_ms,
            permalink=locked.values["permalink"],
        )
    )
    notice = Notice.REMINDER if due.kind is Kind.REMINDER else Notice.ESCALATION
    effects.notices.append(Outgoing(notice, {"stage": due.stage, "number": due.number, **dict(params)}))
    effects.notices.append(Outgoing(Notice.CARD))  # "waiting 47 min on DBA lead" (and who may approve) anew
    return locked.changed(dict(changes))


def may_nudge(locked: LockedRequest, *, user_id: str, now_ms: int, cooldown_ms: int) -> bool:
    """May the requester nudge now? PENDING, unexpired, theirs, and their last nudge is `cooldown_ms` old."""
    row = locked.values
    last = row.get("nudged_ms")
    return (
        row["state"] == RequestState.PENDING.value
        and row["expires_ms"] > now_ms
        and row["requester_id"] == user_id
        and (last is None or last <= now_ms - cooldown_ms)
    )


def write_nudge(locked: LockedRequest, effects: Effects, params: Mapping[str, ParamValue]) -> LockedRequest:
    """The audit record and the notice of a nudge just recorded; returns the request as changed."""
    state, user_id = locked.values["state"], locked.values["requester_id"]
    effects.records.append(
        audit_record(
            request_id=locked.values["id"],
            actor=user_id,
            action="nudge",
            from_state=state,
            to_state=state,
            fingerprint=locked.values["fingerprint"],
            details=dict(params),
            at_ms=effects.now_ms,
            permalink=locked.values["permalink"],
        )
    )
    effects.notices.append(Outgoing(Notice.NUDGE, {**dict(params), "user_id": user_id}))
    return locked.changed({"nudged_ms": effects.now_ms})
