"""Finding what an earlier try posted, so that it is not posted twice.

Each message the announcer posts carries metadata: what it is (the card, notice `seq` of a request, and for a
DM whom it was for). Before a notice whose earlier try may have reached Slack is posted again (the answer was
lost to a dropped connection, or its replica died), the announcer reads the conversation back with
include_all_metadata: the card in the channel's history, a notice in the card's thread, a DM in the app's DM with
that person. Reading needs channels:history / groups:history / im:history (and im:write to open a DM).

A look-up that fails raises (SlackApiError, a connection error): the caller keeps the notice for a later try,
it never posts blind.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
CARD_EVENT = "ddm_restore_card"
NOTICE_EVENT = "ddm_restore_notice"
# Read from a little before the notice was written: the bot's clock and Slack's may disagree by this much.
CLOCK_SKEW_SECONDS = 600.0
PAGE_SIZE = 200
MOST_PAGES = 10  # 2,000 messages since the notice was written: beyond that, it is taken as not there


@dataclass(frozen=True)
class Tag:
    """What a message says it is, in its metadata."""

    event_type: str
    payload: Mapping[str, str | int] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "event_payload": dict(self.payload)}

    def on(self, message: Mapping[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        if not isinstance(metadata, Mapping) or metadata.get("event_type") != self.event_type:
            return False
        payload = metadata.get("event_payload")
        return isinstance(payload, Mapping) and all(payload.get(k) == v for k, v in self.payload.items())


def card_tag(request_id: str) -> Tag:
    return Tag(CARD_EVENT, {"request_id": request_id})


def notice_tag(request_id: str, seq: int, *, to: str | None = None) -> Tag:
    """A notice in the thread (`to` None), or its DM to the requester or a reviewer (`to` says which)."""
    payload: dict[str, str | int] = {"request_id": request_id, "seq": seq}
    if to is not None:
        payload["to"] = to
    return Tag(NOTICE_EVENT, payload)


def oldest_for(created_ms: int) -> str:
    """Slack's `oldest` for a notice written at `created_ms`: it can't have been posted before."""
    return f"{max(0.0, created_ms / 1000 - CLOCK_SKEW_SECONDS):.6f}"


class Lookups:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def card(self, channel_id: str, tag: Tag, *, oldest: str) -> str | None:
        """The ts of the tagged card in the channel, if it is there."""
        found = await self._find(self.client.conversations_history, tag, channel=channel_id, oldest=oldest)
        return str(found["ts"]) if found is not None else None

    async def in_thread(self, channel_id: str, thread_ts: str, tag: Tag, *, oldest: str) -> bool:
        read = self.client.conversations_replies
        return await self._find(read, tag, channel=channel_id, ts=thread_ts, oldest=oldest) is not None

    async def in_dm(self, user_id: str, tag: Tag, *, oldest: str) -> bool:
        opened = await self.client.conversations_open(users=user_id)
        channel = str((opened.get("channel") or {}).get("id") or "")
        return await self._find(self.client.conversations_history, tag, channel=channel, oldest=oldest) is not None

    async def _find(self, read: Callable[..., Awaitable[Any]], tag: Tag, **args: Any) -> Mapping[str, Any] | None:
        cursor: str | None = None
        for _ in range(MOST_PAGES):
            answer = await read(**args, include_all_metadata=True, limit=PAGE_SIZE, cursor=cursor)
            for message in answer.get("messages") or []:
                if tag.on(message):
                    return dict(message)
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        log.warning(
            "%s not among the %d messages read back; taken as not posted", tag.metadata(), MOST_PAGES * PAGE_SIZE
        )
        return None
