"""Options loads for the external selects: live DDM instances and restore targets.

Option texts are plain_text (shown literally, clipped to 75); at most 100 options, the last one saying how many
more there are (bot.slack.blocks.forms.options).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.models.blocks import Option

from bot.choices import ChoicesUnavailable
from bot.restore.ids import short_ids
from bot.slack import payloads
from bot.slack.blocks import NO_SOURCE_VALUE, SOURCE_BLOCK, FormOutOfDate, Step1Meta, note_option, options
from bot.slack.blocks.modal import id_label
from bot.slack.deps import Deps
from bot.workflow.forms import targets_offered

# Options must be answered within Slack's 3 s, DDM's retries notwithstanding.
OPTIONS_BUDGET_SECONDS = 2.3
QUERY_LIMIT = 100


async def source_options(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    query = _query(body)
    choices = deps.choices_in(_channel_of(body.get("view") or {}))

    async def load() -> list[Option]:
        instances = await choices.instances(query)
        ids = short_ids(i.id for i in instances)
        return options((id_label(i.name, ids[i.id]), i.id) for i in instances)

    await ack(options=await within_budget(load()))


async def target_options(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    source_text = selected_source(body.get("view") or {})
    choices = deps.choices_in(_channel_of(body.get("view") or {}))
    query = _query(body)

    async def load() -> list[Option]:
        if not source_text:
            return [note_option("Choose a source first")]
        usable = await targets_offered(choices, source_text, query)
        if usable is None:
            return [note_option(f"No DDM instance “{source_text}”")]
        if not usable:
            return [note_option("No available target (see the list below)")]
        ids = short_ids(t.id for t in usable)
        return options((id_label(t.name, ids[t.id]), t.id) for t in usable)

    await ack(options=await within_budget(load()))


async def within_budget(load: Coroutine[Any, Any, list[Option]]) -> list[Option]:
    """The options, or one unselectable option saying why there are none (DDM slow or failing)."""
    try:
        return await asyncio.wait_for(load, OPTIONS_BUDGET_SECONDS)
    except TimeoutError:
        return [note_option("⚠️ DDM is slow to answer; type again")]
    except ChoicesUnavailable as exc:
        return [note_option(f"⚠️ DDM error: {exc}")]


def selected_source(view: dict[str, Any]) -> str | None:
    """The source chosen in step 1: from the view state when Slack sends it, else from private_metadata."""
    if not isinstance(view, dict):
        return None
    chosen = payloads.selected(payloads.state_values(view), SOURCE_BLOCK)
    if chosen and chosen[0] != NO_SOURCE_VALUE and len(chosen[0]) <= 150:
        return chosen[0]
    try:
        return Step1Meta.load(str(view.get("private_metadata") or "")).source_id
    except (FormOutOfDate, json.JSONDecodeError):
        return None


def _channel_of(view: Any) -> str:
    """The channel the form was opened in (its environment's lists are the ones to offer)."""
    if not isinstance(view, dict):
        return ""
    try:
        return Step1Meta.load(str(view.get("private_metadata") or "")).channel_id
    except (FormOutOfDate, json.JSONDecodeError):
        return ""


def _query(body: dict[str, Any]) -> str:
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        raise payloads.BadPayload("an options query must be text")
    return (value or "")[:QUERY_LIMIT]
