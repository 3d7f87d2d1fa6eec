"""The approval statement: one INSERT that the database itself guards (the stage rule, bot.restore.stages, is
checked before it under the request's lock)."""

from __future__ import annotations

from sqlalchemy import Executable, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.restore.request import RequestState
from bot.store import schema

r = schema.requests


def add_approval(sqlite_dialect: bool) -> Executable:
    """INSERT the approval (request_id, user_id, fingerprint, at_ms) only while the request is PENDING, has that
    fingerprint, is unexpired and needs more approvals; an approval the user already gave is left alone."""
    a = schema.approvals
    request_id = bindparam("request_id", type_=a.c.request_id.type)
    fingerprint = bindparam("fingerprint", type_=a.c.fingerprint.type)
    at_ms = bindparam("at_ms", type_=a.c.at_ms.type)
    so_far = select(func.count()).select_from(a).where(a.c.request_id == request_id).scalar_subquery()
    stage = bindparam("stage", type_=a.c.stage.type)
    eligible = select(request_id, bindparam("user_id", type_=a.c.user_id.type), fingerprint, at_ms, stage).where(
        r.c.id == request_id,
        r.c.state == RequestState.PENDING.value,
        r.c.fingerprint == fingerprint,
        r.c.expires_ms > at_ms,
        so_far < r.c.required_approvals,
    )
    dialect_insert = sqlite.insert if sqlite_dialect else postgresql.insert
    return (
        dialect_insert(a)
        .from_select(["request_id", "user_id", "fingerprint", "at_ms", "stage"], eligible)
        .on_conflict_do_nothing()
    )


# Built once per dialect (is_sqlite -> statement).
ADD_APPROVAL = {False: add_approval(False), True: add_approval(True)}
