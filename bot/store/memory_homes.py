"""Who has opened the App Home and whose is stale, in memory (bot.ports.HomeTabs): MemoryStore's part, with the
SQL table's semantics (bot.store.home_tabs)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from bot.ports import StaleHome
from bot.restore.timeparse import epoch_ms_of as ms
from bot.store.memory_queues import Turn


@dataclass
class _Tab:
    opened_ms: int
    due_ms: int
    version: int = 0
    published_version: int = 0
    attempts: int = 0
    claimed_by: str | None = None
    claim_expires_ms: int | None = None
    last_error: str | None = None

    @property
    def stale(self) -> bool:
        return self.version > self.published_version

    def free_for(self, owner: str, now_ms: int) -> bool:
        return self.claimed_by in (None, owner) or (self.claim_expires_ms or 0) <= now_ms


class MemoryHomeTabs:
    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        self._tabs: dict[str, _Tab] = {}

    async def opened(self, user_id: str, *, now: datetime) -> None:
        await self._turn()
        tab = self._tabs.setdefault(user_id, _Tab(ms(now), ms(now)))
        tab.opened_ms = ms(now)

    async def viewers(self) -> list[str]:
        await self._turn()
        return sorted(self._tabs)

    async def mark_stale(self, user_ids: Collection[str], *, now: datetime) -> None:
        await self._turn()
        for user_id in user_ids:
            if (tab := self._tabs.get(user_id)) is not None:
                tab.due_ms = tab.due_ms if tab.stale else ms(now)
                tab.version += 1

    async def claim(self, owner: str, *, now: datetime, lease_seconds: float, limit: int = 1) -> list[StaleHome]:
        await self._turn()
        now_ms = ms(now)
        ready = [
            (t.due_ms, u) for u, t in self._tabs.items() if t.stale and t.due_ms <= now_ms and t.free_for(owner, now_ms)
        ]
        claimed = []
        for _, user_id in sorted(ready)[:limit]:
            tab = self._tabs[user_id]
            tab.claimed_by, tab.claim_expires_ms = owner, now_ms + int(lease_seconds * 1000)
            tab.attempts += 1
            claimed.append(StaleHome(user_id, tab.version, tab.attempts))
        return claimed

    async def published(self, home: StaleHome, owner: str, *, now: datetime) -> None:
        await self._turn()
        if (tab := self._tabs.get(home.user_id)) is None:
            return  # forgotten meanwhile
        tab.published_version = max(tab.published_version, home.version)
        if tab.claimed_by == owner:
            tab.claimed_by, tab.claim_expires_ms, tab.attempts, tab.last_error = None, None, 0, None
            tab.due_ms = ms(now)

    async def retry_later(self, user_id: str, owner: str, *, due: datetime, error: str) -> None:
        await self._turn()
        tab = self._tabs.get(user_id)
        if tab is not None and tab.claimed_by == owner:
            tab.claimed_by, tab.claim_expires_ms, tab.due_ms, tab.last_error = None, None, ms(due), error[:500]

    async def release(self, owner: str) -> None:
        await self._turn()
        for tab in self._tabs.values():
            if tab.claimed_by == owner:
                tab.claimed_by, tab.claim_expires_ms = None, None

    async def forget(self, user_id: str) -> None:
        await self._turn()
        self._tabs.pop(user_id, None)
