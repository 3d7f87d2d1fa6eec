"""Word to one person (an ephemeral, or a DM when that can't be), and the hint to invite the bot."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


def invite_hint(channel_id: str) -> str:
    return f"Invite me to <#{channel_id}> first: `/invite @ddm-restore`, then try again."


async def tell(client: AsyncWebClient, user_id: str, channel_id: str, text: str) -> None:
    """A message only `user_id` sees."""
    try:
        await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    except SlackApiError as exc:
        # Ephemeral messages need the bot in the channel; a DM from the app always works.
        log.info("ephemeral to %s in %s failed (%s); sending a DM", user_id, channel_id, exc.response.get("error"))
        await client.chat_postMessage(channel=user_id, text=text)


class SlackNotifier:
    """What listeners use to answer the person who clicked or typed."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def tell(self, user_id: str, channel_id: str, text: str) -> None:
        await tell(self.client, user_id, channel_id, text)
