"""Slack's side of the conversation with the bot: what the page does becomes a signed request to `/slack/events`.

Every request is built by `slack_payloads` (the shapes the tests use) and signed with the bot's signing secret,
exactly as Slack sends it; the answers are applied the way Slack applies them (view responses, option lists).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.errors import DependencyError
from bot.playground import slack_payloads as sp
from bot.playground.people import CHANNEL_ID, CHANNEL_NAME, PEOPLE
from bot.playground.workspace import PlaygroundSlack


class RelayError(DependencyError):
    """The bot did not answer as Slack expects (not 200, or not JSON where JSON is due)."""


class SlackRelay:
    def __init__(self, slack: PlaygroundSlack, events_url: str, signing_secret: str) -> None:
        self.slack = slack
        self.events_url = events_url
        self.secret = signing_secret
        # Slack gives up on an app after 3 s; so does the page (the bot's own timing is part of the demo).
        self.http = httpx.AsyncClient(timeout=3.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _send(self, signed: tuple[bytes, dict[str, str]]) -> str:
        body, headers = signed
        try:
            answer = await self.http.post(self.events_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RelayError(f"the bot did not answer: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise RelayError(f"the bot answered HTTP {answer.status_code}: {answer.text[:200]}")
        return answer.text

    @staticmethod
    def _name(user: str) -> str:
        return next((p.user.name for p in PEOPLE if p.user.id == user), user.lower())

    async def command(self, user: str, text: str, command: str = "/ddm-restore") -> None:
        answer = await self._send(
            sp.slash_command(
                self.secret,
                command=command,
                text=text,
                user_id=user,
                user_name=self._name(user),
                channel_id=CHANNEL_ID,
                channel_name=CHANNEL_NAME,
                trigger_id=self.slack.issue_trigger(user),
                response_url=self.slack.response_url(user),
            )
        )
        if answer.strip():
            # An ack with a body is shown to the person only, like a response_url message.
            reply = json.loads(answer) if answer.lstrip().startswith("{") else {"text": answer}
            await self._record_reply(user, reply)

    async def _record_reply(self, user: str, reply: dict[str, Any]) -> None:
        await self.http.post(self.slack.response_url(user), json=reply)

    async def home_opened(self, user: str) -> None:
        """The person opened the app's Home tab: Slack sends app_home_opened (the bot publishes the tab)."""
        await self._send(sp.app_home_opened(self.secret, user_id=user))

    async def message_action(self, user: str, ts: str, action: dict[str, Any]) -> None:
        """A click on a button in a message (card, thread reply or ephemeral)."""
        message = self.slack.message(CHANNEL_ID, ts)
        await self._send(
            sp.block_actions(
                self.secret,
                user_id=user,
                user_name=self._name(user),
                action_id=str(action["action_id"]),
                block_id=action.get("block_id"),
                value=action.get("value"),
                text=action.get("text"),
                channel_id=CHANNEL_ID,
                message=message,
                trigger_id=self.slack.issue_trigger(user),
                response_url=self.slack.response_url(user),
            )
        )

    async def view_action(self, user: str, view_id: str, action: dict[str, Any], state: dict[str, Any]) -> None:
        """A select, picker or button inside a modal (dispatch_action inputs and actions blocks)."""
        self.slack.set_view_state(view_id, state)
        await self._send(
            sp.block_actions(
                self.secret,
                user_id=user,
                user_name=self._name(user),
                action_id=str(action["action_id"]),
                block_id=action.get("block_id"),
                value=action.get("value"),
                text=action.get("text"),
                view=self.slack.views[view_id],
                selected_option=action.get("selected_option"),
                selected_date_time=action.get("selected_date_time"),
                action_type=action.get("type"),
                trigger_id=self.slack.issue_trigger(user),
            )
        )

    async def options(self, user: str, view_id: str, action_id: str, block_id: str, query: str) -> dict[str, Any]:
        answer = await self._send(
            sp.block_suggestion(
                self.secret,
                user_id=user,
                user_name=self._name(user),
                action_id=action_id,
                block_id=block_id,
                value=query,
                view=self.slack.views[view_id],
            )
        )
        try:
            loaded: dict[str, Any] = json.loads(answer) if answer else {}
        except json.JSONDecodeError as exc:
            raise RelayError("the options answer is not JSON") from exc
        return {k: loaded[k] for k in ("options", "option_groups") if k in loaded}

    async def submit(self, user: str, view_id: str, state: dict[str, Any]) -> dict[str, str]:
        """Submit the modal; returns the errors the bot put on fields (empty when it moved on)."""
        self.slack.set_view_state(view_id, state)
        answer = await self._send(
            sp.view_submission(
                self.secret,
                user_id=user,
                user_name=self._name(user),
                view=self.slack.views[view_id],
                trigger_id=self.slack.issue_trigger(user),
            )
        )
        try:
            response: dict[str, Any] = json.loads(answer) if answer.strip() else {}
        except json.JSONDecodeError as exc:
            raise RelayError("the view_submission answer is not JSON") from exc
        self.slack.apply_view_response_for(user, view_id, response)
        return self.slack.view_errors.get(view_id, {})

    async def close(self, user: str, *, everything: bool) -> None:
        """Back or Cancel: Slack tells the app only about views opened with notify_on_close."""
        for view in self.slack.close_view(user, everything=everything):
            if view.get("notify_on_close"):
                await self._send(
                    sp.view_closed(
                        self.secret, user_id=user, user_name=self._name(user), view=view, is_cleared=everything
                    )
                )
