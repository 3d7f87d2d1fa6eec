"""Reading back what was posted: conversations.history / replies / open for FakeSlack, as Slack answers them.

Only conversations the bot is in can be read (`not_in_channel` otherwise); `oldest`/`latest` are exclusive
unless `inclusive`; pages of `limit` messages follow `response_metadata.next_cursor`; `metadata` comes only
with `include_all_metadata`. A message's ts is the time it was posted, as in Slack.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from bot.playground.slack_chat import ChatMixin
from bot.playground.slack_model import SlackError, _truthy


class HistoryMixin(ChatMixin):
    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """The channel's top-level messages (thread parents included, replies not), newest first."""
        channel = self._readable(args.get("channel"))
        top = [m for m in self.messages.get(channel, []) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
        newest_first = list(reversed(_between(top, args)))
        return self._page(newest_first, args, default_limit=100, most=999)

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """The parent and its replies, oldest first."""
        channel = self._readable(args.get("channel"))
        ts = str(args.get("ts") or "")
        try:
            parent = self.message(channel, ts)
        except KeyError:
            raise SlackError("thread_not_found") from None
        root = str(parent.get("thread_ts") or parent["ts"])
        found = [m for m in self.messages[channel] if m["ts"] == root or m.get("thread_ts") == root]
        return self._page(_between(found, args), args, default_limit=1000, most=1000)

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """The app's DM with one user (group DMs are not modelled)."""
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("not_supported", detail="FakeSlack opens 1:1 DMs only")
        user = self.users.get(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user.deleted:
            raise SlackError("user_disabled")
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": self._open_dm(user.id)}}

    # ---- helpers -------------------------------------------------------------------------------------------

    def _readable(self, channel: Any) -> str:
        channel_id = str(channel or "")
        known = self.channels.get(channel_id)
        if known is None:
            if channel_id in self.messages and not self.strict_channels:
                return channel_id  # posted to unregistered (lenient mode): readable too
            raise SlackError("channel_not_found")
        if not known.is_member and not known.is_im:
            raise SlackError("not_in_channel")  # a bot reads only the conversations it is in
        return channel_id

    def _page(
        self, messages: list[dict[str, Any]], args: dict[str, Any], *, default_limit: int, most: int
    ) -> dict[str, Any]:
        try:
            limit = int(args.get("limit") or default_limit)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        limit = max(1, min(limit, most))
        start = _start_of(messages, str(args.get("cursor") or ""))
        page = messages[start : start + limit]
        rest = messages[start + limit :]
        with_metadata = _truthy(args.get("include_all_metadata", False))
        out = []
        for message in page:
            public = self._public_message(message)
            if not with_metadata:
                public.pop("metadata", None)
            out.append(public)
        # The cursor names the next message, so posts made between two pages do not shift the second.
        cursor = _cursor_at(rest[0]["ts"]) if rest else ""
        return {"ok": True, "messages": out, "has_more": bool(rest), "response_metadata": {"next_cursor": cursor}}


def _between(messages: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        oldest = float(args.get("oldest") or 0)
    except (TypeError, ValueError):
        raise SlackError("invalid_ts_oldest") from None
    try:
        latest = float(args.get("latest") or "inf")
    except (TypeError, ValueError):
        raise SlackError("invalid_ts_latest") from None
    inclusive = _truthy(args.get("inclusive", False))

    def inside(ts: float) -> bool:
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in messages if inside(float(m["ts"]))]


def _cursor_at(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _start_of(messages: list[dict[str, Any]], cursor: str) -> int:
    if not cursor:
        return 0
    try:
        kind, _, ts = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    for index, message in enumerate(messages):
        if kind == "next_ts" and message["ts"] == ts:
            return index
    raise SlackError("invalid_cursor")
