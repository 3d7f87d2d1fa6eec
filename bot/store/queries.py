"""The SELECTs of the SQL store's reads (bot.store.sql_store), written for its indexes: the active rows' partial
index (schema.ACTIVE, which SQLite uses only when the query repeats its condition) and created_ms."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, func, select, text

from bot.restore.request import ACTIVE_STATES, RequestState
from bot.store import schema

r = schema.requests
_PENDING = (text(schema.ACTIVE), r.c.state == RequestState.PENDING.value)

COUNT_BY_STATE = select(r.c.state, func.count()).group_by(r.c.state)
NEXT_EXPIRY = select(func.min(r.c.expires_ms)).where(*_PENDING)


def by_job_id(job_id: str) -> Select[Any]:
    return select(r.c.id).where(r.c.job_id == job_id)


def active_for_target(target_instance_id: str) -> Select[Any]:
    return select(r.c.id).where(r.c.target_instance_id == target_instance_id, text(schema.ACTIVE))


def in_states(states: set[RequestState]) -> Select[Any]:
    query = select(r).where(r.c.state.in_([s.value for s in states]))
    if states <= ACTIVE_STATES:
        query = query.where(text(schema.ACTIVE))  # lets SQLite read the active rows' partial index only
    return query


def recent(limit: int, *, requester_id: str | None, channel_id: str | None) -> Select[Any]:
    query = select(r).order_by(r.c.created_ms.desc()).limit(limit)
    if requester_id:
        query = query.where(r.c.requester_id == requester_id)
    if channel_id:
        query = query.where(r.c.channel_id == channel_id)
    return query


def made_since(
    since_ms: int, channel_ids: Collection[str] | None, *, limit: int, offset: int
) -> tuple[Select[Any], Select[Any]]:
    """One page of the requests made since then (newest first), and the count of all of them."""
    where = [r.c.created_ms >= since_ms]
    if channel_ids is not None:
        where.append(r.c.channel_id.in_(sorted(channel_ids)))
    page = select(r).where(*where).order_by(r.c.created_ms.desc(), r.c.id.desc()).limit(limit).offset(offset)
    return page, select(func.count()).select_from(r).where(*where)


def finished_since(since_ms: int) -> Select[Any]:
    return select(r).where(r.c.finished_ms >= since_ms).order_by(r.c.finished_ms, r.c.id)


def due_for_expiry(now_ms: int) -> Select[Any]:
    return select(r.c.id).where(*_PENDING, r.c.expires_ms <= now_ms)
