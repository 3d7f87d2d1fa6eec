"""chat.* and the directory methods (users, user groups, conversations) of FakeSlack."""

from __future__ import annotations

import copy
from typing import Any

from bot.playground.slack_model import SlackError
from bot.playground.slack_state import SlackState


class ChatMixin(SlackState):
    # --- Web API methods ------------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        # As Slack's: the time of the post (look-ups by `oldest` rely on it), and never the same twice.
        self._last_us = max(int(self.clock() * 1_000_000), self._last_us + 100)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _m_api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": args}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Fake Workspace",
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    # chat

    def _resolve_channel(self, channel: Any, *, need_member: bool = True) -> str:
        if not channel:
            raise SlackError("channel_not_found")
        channel_id = str(channel)
        if channel_id[0] in "UW":
            if channel_id not in self.users:
                raise SlackError("channel_not_found")
            return self._open_dm(channel_id)
        known = self.channels.get(channel_id)
        if known is None:
            if self.strict_channels:
                raise SlackError("channel_not_found")
            return channel_id
        if known.is_archived:
            raise SlackError("is_archived")
        if need_member and not known.is_member and not known.is_im:
            raise SlackError("not_in_channel")
        return channel_id

    def _open_dm(self, user_id: str) -> str:
        """The app's DM with a user (Slack has one per user, created on first use)."""
        dm = self.dm_channel(user_id)
        if dm not in self.channels:
            self.add_channel(dm, user_id, is_im=True, user=user_id)
        return dm

    @staticmethod
    def _check_content(args: dict[str, Any]) -> None:
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        blocks = args.get("blocks")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50):
            raise SlackError("invalid_blocks", response_metadata={"messages": ["[ERROR] no more than 50 items"]})
        if len(str(args.get("text") or "")) > 40_000:
            raise SlackError("msg_too_long")

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        self._check_content(args)
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
            "text": str(args.get("text") or ""),
            "blocks": copy.deepcopy(args.get("blocks") or []),
            "thread_ts": None,
        }
        if args.get("attachments"):
            message["attachments"] = copy.deepcopy(args["attachments"])
        if args.get("metadata"):
            message["metadata"] = copy.deepcopy(args["metadata"])
        thread_ts = args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            message["parent_user_id"] = self.bot_user_id
            for parent in self.messages.get(channel, []):
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = parent["ts"]
                    parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                    parent["latest_reply"] = ts
                    parent["reply_users"] = sorted({*parent.get("reply_users", []), self.bot_user_id})
                    message["parent_user_id"] = parent.get("user", self.bot_user_id)
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": self._public_message(message)}

    @staticmethod
    def _public_message(message: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in message.items() if v is not None}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        ts = args.get("ts")
        if not channel:
            raise SlackError("channel_not_found")
        if not ts:
            raise SlackError("message_not_found")
        try:
            message = self.message(str(channel), str(ts))
        except KeyError:
            raise SlackError("message_not_found") from None
        if message.get("user") != self.bot_user_id:
            raise SlackError("cant_update_message")
        if "text" in args or "blocks" in args or "attachments" in args:
            self._check_content({**{k: message.get(k) for k in ("text", "blocks", "attachments")}, **args})
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args and args[key] is not None:
                message[key] = copy.deepcopy(args[key])
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        public = self._public_message(message)
        return {"ok": True, "channel": str(channel), "ts": str(ts), "text": message["text"], "message": public}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        user = args.get("user")
        if not user:
            raise SlackError("user_not_found")
        self._check_content(args)
        ts = self._next_ts()
        self.ephemerals[channel].append(
            {
                "type": "message",
                "user": str(user),
                "ts": ts,
                "text": str(args.get("text") or ""),
                "blocks": copy.deepcopy(args.get("blocks") or []),
                "thread_ts": args.get("thread_ts"),
            }
        )
        return {"ok": True, "message_ts": ts}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        ts = str(args.get("message_ts") or "")
        if not channel:
            raise SlackError("channel_not_found")
        try:
            message = self.message(channel, ts)
        except KeyError:
            raise SlackError("message_not_found") from None
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    # directory

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        real_name = user.real_name or user.name
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": self.team_id,
                "name": user.name,
                "deleted": user.deleted,
                "color": "9f69e7",
                "real_name": real_name,
                "tz": user.tz,
                "tz_label": user.tz,
                "tz_offset": user.tz_offset,
                "profile": {
                    "real_name": real_name,
                    "real_name_normalized": real_name,
                    "display_name": user.name,
                    "display_name_normalized": user.name,
                    "team": self.team_id,
                },
                "is_admin": False,
                "is_owner": False,
                "is_primary_owner": False,
                "is_restricted": user.is_restricted,
                "is_ultra_restricted": user.is_ultra_restricted,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "updated": 1_700_000_000,
            },
        }

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group_id = str(args.get("usergroup") or "")
        if group_id not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group_id])}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel") or ""))
        if channel is None:
            raise SlackError("channel_not_found")
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "created": 1_700_000_000,
            "is_im": channel.is_im,
            "is_mpim": False,
            "is_archived": channel.is_archived,
            "is_org_shared": False,
            "context_team_id": self.team_id,
        }
        if channel.is_im:
            info.update(user=channel.user, is_user_deleted=False, priority=0)
        else:
            info.update(
                is_channel=not channel.is_private,
                is_group=channel.is_private,
                is_private=channel.is_private,
                is_general=False,
                is_shared=False,
                is_ext_shared=False,
                is_member=channel.is_member,
                name_normalized=channel.name,
                topic={"value": "", "creator": "", "last_set": 0},
                purpose={"value": "", "creator": "", "last_set": 0},
            )
        # Callers read is_member on every kind of conversation: an app can always write to its IMs.
        info.setdefault("is_member", True)
        return {"ok": True, "channel": info}

    def _m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel") or ""))
        if channel is None:
            raise SlackError("channel_not_found")
        members = [channel.user] if channel.is_im and channel.user else list(channel.members)
        if channel.is_member and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}
