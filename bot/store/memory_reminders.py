"""Reminders, escalations and nudges of a waiting request (bot.ports.StageReminders), on MemoryStore's rows: the
same decisions as the SQL store's (bot.store.reminder_changes), applied at once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.restore.notices import ParamValue
from bot.restore.reminders import Due, ReminderRule
from bot.restore.request import RestoreRequest
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store.changes import Effects
from bot.store.memory_queues import Commit, Turn
from bot.store.reminder_changes import may_nudge, may_remind, remind_changes, write_nudge, write_reminder
from bot.store.rows import LockedRequest


class MemoryReminders:
    def __init__(self, turn: Turn, rows: Mapping[str, LockedRequest], commit: Commit) -> None:
        self._turn, self._rows, self._commit = turn, rows, commit  # MemoryStore's

    async def remind(
        self,
        request_id: str,
        due: Due,
        *,
        rule: ReminderRule,
        params: Mapping[str, ParamValue],
        now: datetime,
    ) -> RestoreRequest | None:
        await self._turn()
        row = self._rows.get(request_id)
        if row is None or not may_remind(row, due, now_ms=ms(now)):
            return None
        effects = Effects(request_id, ms(now))
        changed = write_reminder(row, due, remind_changes(row, due, rule), effects, params)
        self._commit(request_id, changed, effects)
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
        await self._turn()
        row = self._rows.get(request_id)
        cooldown_ms = int(cooldown.total_seconds() * 1000)
        if row is None or not may_nudge(row, user_id=user_id, now_ms=ms(now), cooldown_ms=cooldown_ms):
            return None
        effects = Effects(request_id, ms(now))
        changed = write_nudge(row, effects, params)
        self._commit(request_id, changed, effects)
        return changed.request()
