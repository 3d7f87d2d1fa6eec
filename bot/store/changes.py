"""What each change of a request writes, as data: the values on its row, its audit records, its notices.

Both repositories take their decisions here, so that they keep one contract: the SQL store
(bot.store.sql_store) applies them in one transaction with conditional statements, the in-memory one
(bot.store.memory) at once. A row is a dict of the requests table's columns (bot.store.rows.LockedRequest).
Reminders, escalations and nudges are in bot.store.reminder_changes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.ports import ChangeObserver
from bot.restore.drills import Outcome, SlotClaim, SlotRecord
from bot.restore.flow import Flow
from bot.restore.lifecycle import LIFECYCLE, REVIEW_AFTER, REVIEW_MOVES, Event, ReviewEvent
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.plan import RestorePlan
from bot.restore.request import SYSTEM, RequestState, RestoreRequest, request_fingerprint
from bot.restore.review import Review
from bot.restore.stages import StageRule
from bot.restore.timeparse import datetime_of, epoch_ms_of
from bot.store import schema
from bot.store.audit_chain import audit_record
from bot.store.rows import LockedRequest

log = logging.getLogger(__name__)

# What a move may write on the request besides its state (anything else is a programming error).
MOVE_VALUES = frozenset(
    {
        "job_id",
        "job_progress",
        "error_code",
        "error_msg",
        "decided_by",
        "decision_note",
        "submitted_ms",
        "job_started_ms",
        "finished_ms",
    }
)
# The time a move into a state stamps on the request, whoever makes it (the figures, bot.restore.figures).
STAMPS = {RequestState.APPROVED: "approved_ms"}
# A row with every column unset: what the database fills in for the columns an insert leaves out.
EMPTY_ROW: dict[str, Any] = {column.name: None for column in schema.requests.columns}


@dataclass
class Effects:
    """What a change writes besides its row: its audit records and its notices, in order."""

    request_id: str
    now_ms: int
    records: list[dict[str, Any]] = field(default_factory=list)
    notices: list[Outgoing] = field(default_factory=list)


def check_move_values(values: Mapping[str, Any] | None) -> None:
    if values and not set(values) <= MOVE_VALUES:
        raise ValueError(f"a move cannot write {sorted(set(values) - MOVE_VALUES)}")


def tell(observers: Iterable[ChangeObserver], change: str, request: RestoreRequest) -> None:
    """Tell the observers of a committed change; one's slip is logged, never taken for the change's failure."""
    for observer in observers:
        try:
            observer(change, request)
        except Exception:
            log.exception("observing %s of %s failed", change, request.id)


# ---- create ----------------------------------------------------------------------------------------------------


def new_row(
    request_id: str,
    *,
    plan: RestorePlan,
    requester_id: str,
    channel_id: str,
    required_approvals: int,
    now_ms: int,
    expires_ms: int,
    review: Review | None,
    flow: Flow | None,
) -> dict[str, Any]:
    """The columns a new PENDING request is inserted with; its fingerprint covers its flow."""
    return {
        "id": request_id,
        "state": RequestState.PENDING.value,
        "fingerprint": request_fingerprint(plan, flow),
        "plan_json": plan.model_dump_json(),
        "source_instance_id": plan.source.id,
        "target_instance_id": plan.target.id,
        "requester_id": requester_id,
        "channel_id": channel_id,
        "required_approvals": required_approvals,
        "created_ms": now_ms,
        "expires_ms": expires_ms,
        "updated_ms": now_ms,
        "review_json": review.to_json() if review is not None else None,
        "flow_json": flow.to_json() if flow is not None else None,
    }


def created(row: Mapping[str, Any]) -> Effects:
    """The audit record (with the flow frozen into the request) and the card notice of a new request."""
    effects = Effects(row["id"], row["created_ms"], notices=[Outgoing(Notice.CARD)])
    details: dict[str, Any] = {"plan": json.loads(row["plan_json"]), "channel_id": row["channel_id"]}
    if row.get("flow_json"):
        details["flow"] = json.loads(row["flow_json"])
    effects.records.append(
        audit_record(
            request_id=row["id"],
            actor=row["requester_id"],
            action="create",
            from_state=None,
            to_state=RequestState.PENDING.value,
            fingerprint=row["fingerprint"],
            details=details,
            at_ms=row["created_ms"],
            permalink=None,
        )
    )
    return effects


def drill_created(row: dict[str, Any], effects: Effects, claim: SlotClaim) -> dict[str, Any]:
    """A drill's new request: approved at once by the environments file when the drill says so (its actor, the
    file's hash in the audit record), else PENDING like any."""
    if claim.approved_by is None:
        return row
    locked = LockedRequest(EMPTY_ROW | row, ())
    changes = move_changes(locked, Event.APPROVED, now_ms=row["created_ms"])
    assert changes is not None
    details = {"drill": claim.drill, "slot_ms": epoch_ms_of(claim.slot), **dict(claim.details)}
    return write_move(locked, Event.APPROVED, changes, effects, actor=claim.approved_by, details=details).values


def slot_row(
    drill: str,
    slot: datetime,
    outcome: str,
    *,
    now_ms: int,
    request_id: str | None = None,
    detail: str = "",
    targets_left: int | None = None,
) -> dict[str, Any]:
    return {
        "drill": drill,
        "slot_ms": epoch_ms_of(slot),
        "outcome": outcome,
        "request_id": request_id,
        "at_ms": now_ms,
        "detail": detail or None,
        "targets_left": targets_left,
    }


def claimed_slot_row(claim: SlotClaim, request_id: str, *, now_ms: int) -> dict[str, Any]:
    """The row of a slot claimed by the request made for it (in the request's change)."""
    return slot_row(
        claim.drill,
        claim.slot,
        Outcome.REQUESTED,
        now_ms=now_ms,
        request_id=request_id,
        targets_left=claim.targets_left,
    )


def slot_record(row: Mapping[str, Any]) -> SlotRecord:
    return SlotRecord(
        drill=row["drill"],
        slot=datetime_of(row["slot_ms"]),
        outcome=row["outcome"],
        at=datetime_of(row["at_ms"]),
        request_id=row["request_id"],
        detail=row["detail"] or "",
        targets_left=row.get("targets_left"),
    )


# ---- moves of the lifecycle table ---------------------------------------------------------------------------


def move_changes(
    locked: LockedRequest, event: Event, *, now_ms: int, values: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """What `event`'s move from the state the request was read in writes on its row, or None when the table
    has no such move. An urgent request's review falls due with the move that ends it; a move into a state of
    STAMPS stamps its time."""
    move = LIFECYCLE.get((RequestState(locked.values["state"]), event))
    if move is None:
        return None
    changes = {"state": move.to.value, "updated_ms": now_ms, **(values or {})}
    if move.to in STAMPS:
        changes[STAMPS[move.to]] = now_ms
    if move.to in REVIEW_AFTER and locked.values.get("review_json"):
        review = Review.from_json(locked.values["review_json"])
        changes["review_due_ms"] = now_ms + int(review.within.total_seconds() * 1000)
    return changes


def write_move(
    locked: LockedRequest,
    event: Event,
    changes: Mapping[str, Any],
    effects: Effects,
    *,
    actor: str,
    values: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    params: Mapping[str, ParamValue] | None = None,
) -> LockedRequest:
    """The move's audit record and notices (then its review's, when it made one due) go to `effects`;
    returns the request as moved. `changes` are `move_changes`' and were written."""
    state = locked.values["state"]
    move = LIFECYCLE[(RequestState(state), event)]
    effects.records.append(
        audit_record(
            request_id=locked.values["id"],
            actor=actor,
            action=event.value,
            from_state=state,
            to_state=move.to.value,
            fingerprint=locked.values["fingerprint"],
            details=dict(details or {}),
            at_ms=effects.now_ms,
            permalink=locked.values["permalink"],
            row_values=dict(values) if values else None,
        )
    )
    effects.notices.extend(Outgoing(n, params or {}) for n in move.notices)
    moved = locked.changed(dict(changes))
    if "review_due_ms" in changes:
        due_ms = changes["review_due_ms"]
        effects.records.append(review_record(moved, ReviewEvent.DUE, SYSTEM, effects.now_ms, {"review_due_ms": due_ms}))
        effects.notices.extend(Outgoing(n, {"due_ms": due_ms}) for n in REVIEW_MOVES[ReviewEvent.DUE])
    return moved


# ---- approvals -------------------------------------------------------------------------------------------------


def frozen_flow(locked: LockedRequest) -> Flow | None:
    raw = locked.values.get("flow_json")
    return Flow.from_json(raw) if raw else None


def stage_rule(locked: LockedRequest) -> StageRule:
    """The stage rule an approval is held to: the request's frozen flow's (never the configuration's now); a
    request without one has one stage of its required approvals."""
    flow = frozen_flow(locked)
    return flow.stage_rule if flow is not None else StageRule((locked.values["required_approvals"],))


def named_stages(locked: LockedRequest) -> bool:
    flow = frozen_flow(locked)
    return flow is not None and flow.named


def may_approve(
    locked: LockedRequest, *, user_id: str, fingerprint: str, now_ms: int, stage: int, rule: StageRule
) -> bool:
    """May `user_id`'s approval for `stage` be added? PENDING, unexpired, still `fingerprint`, not theirs already,
    and the stage rule takes one for `stage` now."""
    row = locked.values
    return (
        row["state"] == RequestState.PENDING.value
        and row["fingerprint"] == fingerprint
        and row["expires_ms"] > now_ms
        and user_id not in {each.user_id for each in locked.approvals}
        and rule.accepts(locked.approvals, stage)
    )


def write_approval(
    locked: LockedRequest,
    effects: Effects,
    *,
    user_id: str,
    stage: int,
    rule: StageRule,
    named_stages: bool,
    params: Mapping[str, ParamValue] | None,
) -> bool:
    """The audit record and notices of the approval just added (`locked` has it); True when it completed the
    last stage (the caller then moves the request to APPROVED in the same change)."""
    row = locked.values
    effects.records.append(
        audit_record(
            request_id=row["id"],
            actor=user_id,
            action="approve",
            from_state=RequestState.PENDING.value,
            to_state=RequestState.PENDING.value,
            fingerprint=row["fingerprint"],
            details={"stage": stage} if named_stages else {},
            at_ms=effects.now_ms,
            permalink=row["permalink"],
        )
    )
    last = rule.complete(locked.approvals)
    notice: dict[str, ParamValue] = {
        "user_id": user_id,
        "count": len(locked.approvals),
        "required": row["required_approvals"],
    }
    if named_stages:
        notice.update(rule.progress(locked.approvals, stage))
    notice.update(params or {})
    effects.notices.append(Outgoing(Notice.APPROVAL, notice))
    if not last:
        effects.notices.append(Outgoing(Notice.CARD))
    return last


# ---- freezing the flow of a request made before flows were frozen -----------------------------------------------


def may_freeze(locked: LockedRequest) -> bool:
    return locked.values["state"] == RequestState.PENDING.value and not locked.values.get("flow_json")


def freeze_changes(flow: Flow) -> dict[str, Any]:
    """What freezing `flow` (marked backfilled) into a pending request writes on its row: the flow, and the count
    of approvals it needs."""
    return {"flow_json": flow.to_json(), "required_approvals": flow.total_required}


def write_freeze(locked: LockedRequest, flow: Flow, effects: Effects) -> LockedRequest:
    """The audit record of a flow frozen into a request after it was made; returns the request as changed."""
    state = locked.values["state"]
    effects.records.append(
        audit_record(
            request_id=locked.values["id"],
            actor=SYSTEM,
            action="flow_frozen",
            from_state=state,
            to_state=state,
            fingerprint=locked.values["fingerprint"],
            details={"flow": flow.identity(), "backfilled": True},
            at_ms=effects.now_ms,
            permalink=locked.values["permalink"],
        )
    )
    return locked.changed(freeze_changes(flow))


# ---- reviews ---------------------------------------------------------------------------------------------------


def review_record(
    locked: LockedRequest, event: ReviewEvent, actor: str, now_ms: int, details: dict[str, Any]
) -> dict[str, Any]:
    """The audit record of a review move: the request's state stays as it is."""
    state = locked.values["state"]
    return audit_record(
        request_id=locked.values["id"],
        actor=actor,
        action=event.value,
        from_state=state,
        to_state=state,
        fingerprint=locked.values["fingerprint"],
        details=details,
        at_ms=now_ms,
        permalink=locked.values["permalink"],
    )
