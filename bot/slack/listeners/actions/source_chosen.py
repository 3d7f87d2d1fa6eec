"""A source chosen in step 1: fill in its restorable window and the targets that can't be used."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import payloads
from bot.slack.blocks import NO_SOURCE_VALUE, FormOutOfDate, Step1Meta, option
from bot.slack.deps import Deps
from bot.slack.step1_refresh import Held, refresh_step1


async def source_chosen(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps) -> None:
    view = payloads.view(body)
    chosen = payloads.chosen_option(payloads.action(body))
    try:
        meta = Step1Meta.load(str(view.get("private_metadata") or ""))
    except FormOutOfDate:
        raise payloads.BadPayload("step 1's private_metadata can't be read") from None
    user_id = payloads.user_id(body)
    await ack()
    if chosen is None or chosen[0] == NO_SOURCE_VALUE or len(chosen[0]) > 150:
        return
    deps.tasks.spawn(
        refresh_step1(
            deps,
            client,
            view_id=str(view.get("id") or ""),
            view_hash=view.get("hash"),
            meta=meta,
            source=option(chosen[1], chosen[0]),
            user_id=user_id,
            held=Held.from_state(payloads.state_values(view)),
        ),
        name="refresh step 1",
    )
