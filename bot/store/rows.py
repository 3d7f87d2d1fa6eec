"""Rows to domain objects: requests with their approvals, read in two statements whatever their number."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from bot.restore.plan import RestorePlan
from bot.restore.request import Approval, RequestState, RestoreRequest
from bot.restore.timeparse import datetime_of, epoch_ms_of
from bot.store import schema

ms = epoch_ms_of  # the store keeps times as epoch milliseconds


def dt(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime_of(epoch_ms)


async def get_request(conn: AsyncConnection, request_id: str) -> RestoreRequest | None:
    found = await load_requests(conn, select(schema.requests).where(schema.requests.c.id == request_id))
    return found[0] if found else None


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
        by_request.setdefault(a.request_id, []).append(Approval(user_id=a.user_id, at=datetime_of(a.at_ms)))
    return [request_of(row, tuple(by_request.get(row.id, ()))) for row in rows]


def request_of(row: Row[Any], approvals: tuple[Approval, ...]) -> RestoreRequest:
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
        submitted_at=dt(row.submitted_ms),
        finished_at=dt(row.finished_ms),
    )
