"""The approval statements: one INSERT that the database itself guards, and the stage rule checked under the
request's lock (bot.store.requests.RequestStore.approve)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Executable, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.restore.request import Approval, RequestState
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


def stage_open(approvals: Sequence[Approval], stage: int, required_each: Sequence[int]) -> bool:
    """May one more approval count for `stage` (1-based)? Every earlier stage complete, this one short."""
    if not 1 <= stage <= len(required_each):
        return False
    in_stage = [sum(1 for a in approvals if a.stage == n) for n in range(1, len(required_each) + 1)]
    return (
        all(in_stage[n] >= required_each[n] for n in range(stage - 1))
        and in_stage[stage - 1] < required_each[stage - 1]
    )
