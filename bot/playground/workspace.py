"""The stand-in for Slack the playground serves: FakeSlack plus what a workspace shows each person.

Slack keeps one modal stack per person (the one whose trigger_id opened it); FakeSlack keeps a single stack, so
this class swaps in the stack of the trigger's owner around every view call. `snapshot(user)` is what the page
draws for that person: the channel, threads, their ephemerals and DMs, and their modal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bot.playground import payload_shapes
from bot.playground.people import CHANNEL_ID, CHANNEL_NAME, LEADS_GROUP_ID, LEADS_HANDLE, PEOPLE
from bot.playground.slack_api import FakeSlack

_R = TypeVar("_R")


class PlaygroundSlack(FakeSlack):
    def __init__(self) -> None:
        super().__init__(strict_channels=False)
        self.trigger_owner: dict[str, str] = {}
        self.stacks: dict[str, list[str]] = {}
        self.view_errors: dict[str, dict[str, str]] = {}
        self.version = 0  # bumped on every change, so the page can tell when to redraw
        self._last_us = 0

    def _next_ts(self) -> str:
        # Real clock time (FakeSlack counts from a fixed 2023 base for tests): the page shows when things happened.
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 100)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    # --- triggers and per-person modal stacks -----------------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        trigger = payload_shapes.new_trigger_id()
        self.trigger_owner[trigger] = user
        return trigger

    def _owned(self, owner: str, step: Callable[[], _R]) -> _R:
        self._view_stack = self.stacks.setdefault(owner, [])
        try:
            return step()
        finally:
            self.stacks[owner] = self._view_stack
            self.version += 1

    def _trigger_owner(self, args: Mapping[str, Any]) -> str:
        return self.trigger_owner.get(str(args.get("trigger_id") or args.get("interactivity_pointer") or ""), "")

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self._trigger_owner(args), lambda: super(PlaygroundSlack, self)._m_views_open(args))

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self._trigger_owner(args), lambda: super(PlaygroundSlack, self)._m_views_push(args))

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._m_views_update(args)
        self.view_errors.pop(str(answer["view"]["id"]), None)  # a redrawn view starts without errors, as in Slack
        return answer

    def apply_view_response_for(self, user: str, view_id: str, response: Mapping[str, Any]) -> str | None:
        """apply_view_response on `user`'s stack; remembers `errors` so the page shows them under the fields."""
        if response.get("response_action") == "errors":
            self.view_errors[view_id] = {str(k): str(v) for k, v in dict(response.get("errors") or {}).items()}
        else:
            self.view_errors.pop(view_id, None)
        return self._owned(user, lambda: self.apply_view_response(view_id, response))

    def close_view(self, user: str, *, everything: bool) -> list[dict[str, Any]]:
        """Back (pop one view) or close (the whole stack); returns the closed views (for view_closed)."""
        stack = self.stacks.get(user, [])
        closed_ids = list(stack) if everything else stack[-1:]
        self.stacks[user] = [] if everything else stack[:-1]
        self.version += 1
        return [self.views[v] for v in reversed(closed_ids)]

    async def _notify(self) -> None:
        self.version += 1
        await super()._notify()

    # --- what one person sees ---------------------------------------------------------------------------------

    def directory(self) -> dict[str, Any]:
        return {
            "people": [
                {
                    "id": p.user.id,
                    "name": p.user.name,
                    "real_name": p.user.real_name,
                    "role": p.role,
                    "can": p.can,
                    "tz": p.user.tz,
                    "guest": p.user.is_restricted,
                }
                for p in PEOPLE
            ],
            "users": {u.id: {"name": u.name, "bot": u.is_bot} for u in self.users.values()},
            "groups": {LEADS_GROUP_ID: {"handle": LEADS_HANDLE, "members": self.usergroups.get(LEADS_GROUP_ID, [])}},
            "channels": {c.id: c.name for c in self.channels.values() if not c.is_im},
            "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
            "bot": {"id": self.bot_user_id, "name": self.users[self.bot_user_id].name},
        }

    def snapshot(self, user: str) -> dict[str, Any]:
        posted = self.messages.get(CHANNEL_ID, [])
        replies: dict[str, list[dict[str, Any]]] = {}
        for m in posted:
            if m.get("thread_ts") and m["thread_ts"] != m["ts"]:
                replies.setdefault(str(m["thread_ts"]), []).append(_shown(m))
        messages = [
            {**_shown(m), "replies": replies.get(str(m["ts"]), [])}
            for m in posted
            if not m.get("thread_ts") or m["thread_ts"] == m["ts"]
        ]
        return {
            "version": self.version,
            "messages": messages,
            "ephemerals": self._ephemerals(user),
            "dms": [_shown(m) for m in self.messages.get(self.dm_channel(user), [])],
            "modal": self._modal(user),
            "home": self._home(user),
        }

    def _home(self, user: str) -> dict[str, Any] | None:
        """The App Home tab the bot last published for `user` (views.publish)."""
        view = self.home_of(user)
        return None if view is None else {k: view.get(k) for k in ("id", "hash", "blocks")}

    def _ephemerals(self, user: str) -> list[dict[str, Any]]:
        """What only `user` sees, in arrival order: chat.postEphemeral to them and answers to their response_url."""
        out: list[dict[str, Any]] = []
        for seq, call in enumerate(self.calls):
            if call.error is not None or not call.answered:
                continue
            mine = call.method == "chat.postEphemeral" and call.args.get("user") == user
            if mine or call.method == f"response_url:{user}":
                args = call.args
                out.append(
                    {
                        "id": f"e{seq}",
                        "text": str(args.get("text") or ""),
                        "blocks": args.get("blocks") or [],
                        "thread_ts": args.get("thread_ts"),
                    }
                )
        return out

    def _modal(self, user: str) -> dict[str, Any] | None:
        stack = self.stacks.get(user) or []
        if not stack:
            return None
        view = self.views[stack[-1]]
        keys = ("id", "hash", "title", "blocks", "submit", "close", "callback_id", "state")
        return {
            **{k: view.get(k) for k in keys},
            "depth": len(stack),
            "errors": self.view_errors.get(stack[-1], {}),
        }


def _shown(message: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("ts", "thread_ts", "text", "blocks", "user", "edited", "reply_count")
    return {k: message.get(k) for k in keys if message.get(k) is not None}
