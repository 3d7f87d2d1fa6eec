"""Rows to domain objects: requests with their approvals, read in two statements whatever their number."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from bot.restore.flow import Flow
from bot.restore.plan import RestorePlan
from bot.restore.reminders import Sent
from bot.restore.request import Approval, RequestState, RestoreRequest
from bot.restore.review import Review
from bot.restore.timeparse import datetime_of, epoch_ms_of
from bot.store import schema

ms = epoch_ms_of  # the store keeps times as epoch milliseconds


def dt(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime_of(epoch_ms)


async def load_requests(conn: AsyncConnection, query: Select[Any]) -> list[RestoreRequest]:
    """Requests of `query` with their approvals: two statements, whatever the number of rows."""
    rows = (await conn.execute(query)).all()
    if not rows:
        return []
    approval_rows = (
        await conn.execute(
            select(schema.approvals)
            .where(schema.approvals.c.request_id.in_([row.id for row in rows]))
            .order_by(schema.approvals.c.at_ms, schema.approvals.c.user_id)
        )
    ).all()
    by_request: dict[str, list[Approval]] = {}
    for a in approval_rows:
        by_request.setdefault(a.request_id, []).append(
            Approval(user_id=a.user_id, at=datetime_of(a.at_ms), stage=a.stage)
        )
    return [request_of(row, tuple(by_request.get(row.id, ()))) for row in rows]


@dataclass(frozen=True)
class LockedRequest:
    """A request's row as read (and locked) in a transaction, and its approvals in their order."""

    values: dict[str, Any]
    approvals: tuple[Approval, ...]
    # SQLite: the audit chain's head hash, read with the row (the writer lock keeps it until the commit).
    chain_head: str | None = None

    def changed(self, values: dict[str, Any] | None = None, approval: Approval | None = None) -> LockedRequest:
        """The row after this transaction wrote `values` on it and/or added `approval`."""
        approvals = self.approvals
        if approval is not None:
            approvals = tuple(sorted((*approvals, approval), key=lambda a: (a.at, a.user_id)))
        return replace(self, values={**self.values, **(values or {})}, approvals=approvals)

    def request(self) -> RestoreRequest:
        return request_of(SimpleNamespace(**self.values), self.approvals)


_r, _a = schema.requests, schema.approvals
_ID = bindparam("request_id", type_=_r.c.id.type)
_IN_ORDER = (_a.c.at_ms, _a.c.user_id)
# Built once (the hot path of every click): no statement construction or cache-key work per call.
_LOCK_ROW = select(_r).where(_r.c.id == _ID).with_for_update()
_APPROVALS_OF = select(_a.c.user_id, _a.c.at_ms, _a.c.stage).where(_a.c.request_id == _ID).order_by(*_IN_ORDER)
_h = schema.audit_head
_CHAIN_HEAD = select(_h.c.hash).where(_h.c.id == schema.AUDIT_HEAD_ID).scalar_subquery()
_ROW_AND_APPROVALS = (
    select(
        _r,
        _a.c.user_id.label("approval_user_id"),
        _a.c.at_ms.label("approval_at_ms"),
        _a.c.stage.label("approval_stage"),
        _CHAIN_HEAD.label("chain_head"),
    )
    .select_from(_r.outerjoin(_a, _a.c.request_id == _r.c.id))
    .where(_r.c.id == _ID)
    .order_by(*_IN_ORDER)
)

# A plain read of one request (every click reads one): its row and approvals in one statement, built once.
_READ_ROW_AND_APPROVALS = (
    select(
        _r,
        _a.c.user_id.label("approval_user_id"),
        _a.c.at_ms.label("approval_at_ms"),
        _a.c.stage.label("approval_stage"),
    )
    .select_from(_r.outerjoin(_a, _a.c.request_id == _r.c.id))
    .where(_r.c.id == _ID)
    .order_by(*_IN_ORDER)
)


async def get_request(conn: AsyncConnection, request_id: str) -> RestoreRequest | None:
    """One request with its approvals, in one prepared statement (one trip to the database's thread)."""
    rows = (await conn.execute(_READ_ROW_AND_APPROVALS, {"request_id": request_id})).all()
    if not rows:
        return None
    return request_of(rows[0], _joined_approvals(rows))


def _joined_approvals(rows: Any) -> tuple[Approval, ...]:
    """The approvals of a request's rows outer-joined with its approvals (none: one row of NULLs)."""
    return tuple(
        Approval(user_id=row.approval_user_id, at=datetime_of(row.approval_at_ms), stage=row.approval_stage)
        for row in rows
        if row.approval_user_id is not None
    )


async def lock_request(conn: AsyncConnection, request_id: str) -> LockedRequest | None:
    """The request's row and its approvals. On PostgreSQL the row stays locked (FOR UPDATE) until the
    transaction ends, and the approvals are read by a second statement: a READ COMMITTED statement that had to
    wait for the lock would show the row as committed meanwhile but the other tables as they were when it
    started, without the approvals added by the transaction it waited for. On SQLite the writer lock is held
    from BEGIN IMMEDIATE on, so one statement reads both, and the audit chain's head with them."""
    key = {"request_id": request_id}
    if conn.dialect.name != "sqlite":
        row = (await conn.execute(_LOCK_ROW, key)).first()
        if row is None:
            return None
        found = (await conn.execute(_APPROVALS_OF, key)).all()
        return LockedRequest(
            dict(row._mapping),
            tuple(Approval(user_id=each.user_id, at=datetime_of(each.at_ms), stage=each.stage) for each in found),
        )
    rows = (await conn.execute(_ROW_AND_APPROVALS, key)).all()
    if not rows:
        return None
    values = dict(rows[0]._mapping)
    del values["approval_user_id"], values["approval_at_ms"], values["approval_stage"], values["chain_head"]
    return LockedRequest(values, _joined_approvals(rows), chain_head=rows[0].chain_head)


def request_of(row: Any, approvals: tuple[Approval, ...]) -> RestoreRequest:
    return RestoreRequest(
        id=row.id,
        plan=RestorePlan.model_validate_json(row.plan_json),
        fingerprint=row.fingerprint,
        requester_id=row.requester_id,
        channel_id=row.channel_id,
        state=RequestState(row.state),
        required_approvals=row.required_approvals,
        created_at=datetime_of(row.created_ms),
        expires_at=datetime_of(row.expires_ms),
        updated_at=datetime_of(row.updated_ms),
        message_ts=row.message_ts,
        approvals=approvals,
        job_id=row.job_id,
        job_progress=row.job_progress,
        error_code=row.error_code,
        error_msg=row.error_msg,
        decided_by=row.decided_by,
        decision_note=row.decision_note,
        approved_at=dt(row.approved_ms),
        submitted_at=dt(row.submitted_ms),
        job_started_at=dt(row.job_started_ms),
        finished_at=dt(row.finished_ms),
        review=_review_of(row),
        flow=_flow_of(row),
        reminders=Sent.from_json(getattr(row, "reminders_json", None)),
        nudged_at=dt(getattr(row, "nudged_ms", None)),
    )


def _flow_of(row: Any) -> Flow | None:
    raw = getattr(row, "flow_json", None)
    return Flow.from_json(raw) if raw else None


def _review_of(row: Any) -> Review | None:
    raw = getattr(row, "review_json", None)
    if not raw:
        return None
    return Review.from_json(raw).with_times(
        due_at=dt(row.review_due_ms),
        reminded_at=dt(row.review_reminded_ms),
        reviewed_by=row.reviewed_by,
        reviewed_at=dt(row.reviewed_ms),
    )
