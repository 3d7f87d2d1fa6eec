"""SlackDirectory: who a Slack user is for the approval policy (guest? which configured groups?)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.restore.policy import Actor


@dataclass(frozen=True)
class UserFacts:
    is_guest: bool
    tz: str | None


class SlackDirectory:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        group_ids: frozenset[str],
        cache_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`monotonic`: the bot's clock (bot.runtime.clock), so that a cached answer ages as the bot's time passes."""
        self.client = client
        self._monotonic = monotonic
        self.group_ids = group_ids
        self.cache_seconds = cache_seconds
        self._users: dict[str, tuple[float, UserFacts]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._group_lock = asyncio.Lock()

    async def actor(self, user_id: str) -> Actor:
        facts, groups = await asyncio.gather(self.user(user_id), self._member_groups(user_id))
        return Actor(user_id=user_id, is_guest=facts.is_guest, group_ids=groups)

    async def user(self, user_id: str) -> UserFacts:
        hit = self._users.get(user_id)
        if hit and self._monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        answer = await self.client.users_info(user=user_id)
        user = answer["user"]
        # Guests (single- and multi-channel), deactivated users and bots never count as people who may decide.
        is_guest = bool(
            user.get("is_restricted") or user.get("is_ultra_restricted") or user.get("deleted") or user.get("is_bot")
        )
        facts = UserFacts(is_guest=is_guest, tz=user.get("tz"))
        self._users[user_id] = (self._monotonic(), facts)
        return facts

    async def _member_groups(self, user_id: str) -> frozenset[str]:
        if not self.group_ids:
            return frozenset()
        members = await asyncio.gather(*[self._group_members(gid) for gid in sorted(self.group_ids)])
        return frozenset(gid for gid, users in zip(sorted(self.group_ids), members, strict=True) if user_id in users)

    async def _group_members(self, group_id: str) -> frozenset[str]:
        hit = self._groups.get(group_id)
        if hit and self._monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        async with self._group_lock:  # Tier 2 method: one call per group per cache period
            hit = self._groups.get(group_id)
            if hit and self._monotonic() - hit[0] < self.cache_seconds:
                return hit[1]
            answer = await self.client.usergroups_users_list(usergroup=group_id)
            users = frozenset(answer.get("users") or [])
            self._groups[group_id] = (self._monotonic(), users)
            return users
