"""Who a person is for the approval policy (bot.slack.directory implements it)."""

from __future__ import annotations

from typing import Protocol

from bot.restore.policy import Actor


class UserDirectory(Protocol):
    async def actor(self, user_id: str) -> Actor:
        """Who this person is for the policy: guest or not, and which configured groups they are in."""
        ...
