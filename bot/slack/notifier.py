"""SlackNotifier: the card in the channel and its thread, through the Slack Web API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import CardNotPosted
from bot.restore.request import RestoreRequest
from bot.slack.blocks import card_fallback_text, request_card

log = logging.getLogger(__name__)
NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


def invite_hint(channel_id: str) -> str:
    return f"Invite me to <#{channel_id}> first: `/invite @ddm-restore`, then try again."


class SlackNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        approvers: str,
        latest: Callable[[str], Awaitable[RestoreRequest | None]],
    ) -> None:
        self.client = client
        self.approvers = approvers
        # Cards are rendered from the stored request at the moment of the update, one update per card at a time,
        # so a late progress update can never paint over a newer state.
        self._latest = latest
        self._locks: dict[str, asyncio.Lock] = {}

    async def post_card(self, request: RestoreRequest) -> str:
        try:
            answer = await self.client.chat_postMessage(
                channel=request.channel_id,
                text=card_fallback_text(request),
                blocks=[b.to_dict() for b in request_card(request, approvers=self.approvers)],
                unfurl_links=False,
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in NOT_IN_CHANNEL:
                raise CardNotPosted(invite_hint(request.channel_id)) from None
            raise CardNotPosted(f"Slack said `{error}`.") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise CardNotPosted(f"Slack could not be reached ({type(exc).__name__}).") from None
        except Exception as exc:
            log.exception("posting the card of %s failed", request.id)
            raise CardNotPosted(f"posting it failed ({type(exc).__name__}).") from None
        return str(answer["ts"])

    async def permalink(self, channel_id: str, message_ts: str) -> str | None:
        try:
            answer = await self.client.chat_getPermalink(channel=channel_id, message_ts=message_ts)
        except Exception:
            log.info("no permalink for %s/%s", channel_id, message_ts)
            return None
        link = answer.get("permalink")
        return str(link) if link else None

    async def update_card(self, request: RestoreRequest) -> None:
        lock = self._locks.setdefault(request.id, asyncio.Lock())
        async with lock:
            current = await self._latest(request.id) or request
            for _ in range(3):
                if not current.message_ts:
                    return
                await self.client.chat_update(
                    channel=current.channel_id,
                    ts=current.message_ts,
                    text=card_fallback_text(current),
                    blocks=[b.to_dict() for b in request_card(current, approvers=self.approvers)],
                )
                # Another replica may have moved the request on while this update was on its way: the card
                # must end showing the newest state, so render again when it changed.
                latest = await self._latest(request.id)
                if latest is None or (latest.state, latest.job_progress, latest.approvals) == (
                    current.state,
                    current.job_progress,
                    current.approvals,
                ):
                    break
                current = latest
        if current.is_final:
            self._locks.pop(request.id, None)

    async def post_in_thread(self, request: RestoreRequest, text: str) -> None:
        current = request if request.message_ts else (await self._latest(request.id) or request)
        if not current.message_ts:
            log.warning("no card for %s yet; thread message dropped: %s", request.id, text)
            return
        await self.client.chat_postMessage(
            channel=current.channel_id, thread_ts=current.message_ts, text=text, unfurl_links=False
        )

    async def tell(self, user_id: str, channel_id: str, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
        except SlackApiError as exc:
            # Ephemeral messages need the bot in the channel; a DM from the app always works.
            log.info("ephemeral to %s in %s failed (%s); sending a DM", user_id, channel_id, exc.response.get("error"))
            await self.client.chat_postMessage(channel=user_id, text=text)
