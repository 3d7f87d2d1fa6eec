"""Word to one person (an ephemeral, or a DM when that can't be), and the hint to invite the bot."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.retries import may_have_arrived

log = logging.getLogger(__name__)
NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


def invite_hint(channel_id: str) -> str:
    return f"Invite me to <#{channel_id}> first: `/invite @ddm-restore`, then try again."


async def tell(
    client: AsyncWebClient, user_id: str, channel_id: str, text: str, *, metadata: dict[str, Any] | None = None
) -> None:
    """A message only `user_id` sees. `metadata` tags the DM (so a later try can find it, bot.slack.posted).

    An ephemeral can't be read back: one whose connection dropped may have been shown, so it is not sent again
    (a DM is not sent instead either: it could be a second message). A DM's dropped connection is the caller's
    to handle (the announcer looks for it before its next try)."""
    if not channel_id:  # a click in the App Home: no channel to answer in
        await client.chat_postMessage(channel=user_id, text=text, metadata=metadata)
        return
    try:
        await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    except SlackApiError as exc:
        # Ephemeral messages need the bot in the channel; a DM from the app always works.
        log.info("ephemeral to %s in %s failed (%s); sending a DM", user_id, channel_id, exc.response.get("error"))
        await client.chat_postMessage(channel=user_id, text=text, metadata=metadata)
    except Exception as exc:
        if not may_have_arrived(exc):
            raise
        log.warning(
            "the ephemeral to %s may or may not have reached Slack (%s); not sent again", user_id, type(exc).__name__
        )


class SlackNotifier:
    """What listeners use to answer the person who clicked or typed."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def tell(self, user_id: str, channel_id: str, text: str) -> None:
        await tell(self.client, user_id, channel_id, text)

    async def say(self, channel_id: str, text: str) -> None:
        """A message to the channel (a drill that did not start): `text` is our own mrkdwn."""
        await self.client.chat_postMessage(channel=channel_id, text=text)
