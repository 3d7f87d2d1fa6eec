"""Clicks: the source chosen in the modal, and Approve / Reject / Cancel on the card."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.models.blocks import Option
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import (
    APPROVE_ACTION,
    CANCEL_ACTION,
    NO_SOURCE_VALUE,
    REJECT_ACTION,
    SOURCE_BLOCK,
    Step1Meta,
    reject_view,
)
from bot.slack.listeners import Deps
from bot.slack.listeners.step1 import refresh_step1

log = logging.getLogger(__name__)
# Checking whether a person may reject must not eat the trigger's 3 s.
REJECT_CHECK_BUDGET = 1.5


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(SOURCE_BLOCK)
    async def source_chosen(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        chosen = action.get("selected_option") or {}
        if not chosen.get("value") or chosen["value"] == NO_SOURCE_VALUE:
            return
        view = body["view"]
        deps.tasks.spawn(
            refresh_step1(
                deps,
                client,
                view_id=view["id"],
                view_hash=view.get("hash"),
                meta=Step1Meta.load(view.get("private_metadata") or ""),
                source=Option(text=chosen["text"]["text"], value=chosen["value"]),
                user_id=body["user"]["id"],
                state_values=(view.get("state") or {}).get("values") or {},
            ),
            name="refresh step 1",
        )

    @app.action(APPROVE_ACTION)
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_decide(deps, body, "approve"), name="approve")

    @app.action(CANCEL_ACTION)
    async def cancel(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_decide(deps, body, "cancel"), name="cancel")

    @app.action(REJECT_ACTION)
    async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        deps.tasks.spawn(_open_reject(deps, body, client), name="reject")


async def _decide(deps: Deps, body: dict[str, Any], what: str) -> None:
    request_id = str(body["actions"][0]["value"])
    user_id = str(body["user"]["id"])
    if what == "approve":
        refusal = await deps.service.approve(request_id, user_id)
    else:
        refusal = await deps.service.cancel(request_id, user_id)
    if refusal is not None:
        await deps.notifier.tell(user_id, _channel(body), refusal.message)


async def _open_reject(deps: Deps, body: dict[str, Any], client: AsyncWebClient) -> None:
    request_id = str(body["actions"][0]["value"])
    user_id = str(body["user"]["id"])
    try:
        refusal = await asyncio.wait_for(deps.service.check_reject(request_id, user_id), REJECT_CHECK_BUDGET)
    except TimeoutError:
        refusal = None  # checked again when the reason is submitted
    if refusal is not None:
        await deps.notifier.tell(user_id, _channel(body), refusal.message)
        return
    await client.views_open(trigger_id=body["trigger_id"], view=reject_view(request_id))


def _channel(body: dict[str, Any]) -> str:
    channel = body.get("channel") or {}
    return str(channel.get("id") or body.get("container", {}).get("channel_id", ""))
