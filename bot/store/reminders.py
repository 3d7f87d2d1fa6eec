"""Reminders, escalations and nudges of a waiting request in the SQL store (bot.ports.StageReminders): each a
conditional update under the request's lock, with its audit record and notices in the same transaction, so that
of replicas sweeping together one sends it (what each writes: bot.store.reminder_changes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import update

from bot.restore.notices import ParamValue
from bot.restore.reminders import Due, ReminderRule
from bot.restore.request import RequestState, RestoreRequest
from bot.store import schema
from bot.store.audit_chain import append_records
from bot.store.changes import Effects
from bot.store.database import Database
from bot.store.outbox import append_notices
from bot.store.reminder_changes import may_nudge, may_remind, remind_changes, write_nudge, write_reminder
from bot.store.rows import lock_request, ms

r = schema.requests


class ReminderTable:
    def __init__(self, db: Database, on_notices: Callable[[], None]) -> None:
        self.db = db
        self.on_notices = on_notices

    async def remind(
        self,
        request_id: str,
        due: Due,
        *,
        rule: ReminderRule,
        params: Mapping[str, ParamValue],
        now: datetime,
    ) -> RestoreRequest | None:
        """Record `due` (a reminder or the escalation of the current stage) with its notice and audit record, once:
        None when it can't be sent (the stage moved on, the request ended) or was sent already, by any replica —
        the update is conditional on what was sent as it was read under the request's lock."""
        now_ms = ms(now)
        async with self.db.write() as conn:
            locked = await lock_request(conn, request_id)
            if locked is None or not may_remind(locked, due, now_ms=now_ms):
                return None
            before = locked.values.get("reminders_json")
            changes = remind_changes(locked, due, rule)
            result = await conn.execute(
                update(r)
                .where(
                    r.c.id == request_id,
                    r.c.state == RequestState.PENDING.value,
                    r.c.reminders_json.is_(None) if before is None else r.c.reminders_json == before,
                )
                .values(**changes)
            )
            if result.rowcount != 1:
                return None
            effects = Effects(request_id, now_ms)
            changed = write_reminder(locked, due, changes, effects, params)
            await append_notices(conn, request_id, effects.notices, now_ms=now_ms)
            await append_records(conn, effects.records, head=locked.chain_head)
        self.on_notices()
        return changed.request()

    async def nudge(
        self,
        request_id: str,
        *,
        user_id: str,
        cooldown: timedelta,
        params: Mapping[str, ParamValue],
        now: datetime,
    ) -> RestoreRequest | None:
        """Record the requester's nudge with its notice, unless their last one is younger than `cooldown` (one
        conditional update: two quick clicks, on any replicas, nudge once)."""
        now_ms, cooldown_ms = ms(now), int(cooldown.total_seconds() * 1000)
        async with self.db.write() as conn:
            locked = await lock_request(conn, request_id)
            if locked is None or not may_nudge(locked, user_id=user_id, now_ms=now_ms, cooldown_ms=cooldown_ms):
                return None
            result = await conn.execute(
                update(r)
                .where(
                    r.c.id == request_id,
                    r.c.state == RequestState.PENDING.value,
                    r.c.nudged_ms.is_(None) | (r.c.nudged_ms <= now_ms - cooldown_ms),
                )
                .values(nudged_ms=now_ms)
            )
            if result.rowcount != 1:
                return None
            effects = Effects(request_id, now_ms)
            changed = write_nudge(locked, effects, params)
            await append_notices(conn, request_id, effects.notices, now_ms=now_ms)
            await append_records(conn, effects.records, head=locked.chain_head)
        self.on_notices()
        return changed.request()
