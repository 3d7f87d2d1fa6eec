"""Options loads for the external selects: live DDM instances and restore targets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.models.blocks import Option

from bot.choices import ChoicesUnavailable
from bot.slack.blocks import NO_SOURCE_VALUE, SOURCE_BLOCK, TARGET_BLOCK, Step1Meta, clip, option, short_id
from bot.slack.listeners import Deps

# Options must be answered within Slack's 3 s, DDM's retries notwithstanding.
OPTIONS_BUDGET_SECONDS = 2.3


def register(app: AsyncApp, deps: Deps) -> None:
    @app.options(SOURCE_BLOCK)
    async def source_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        async def load() -> list[Option]:
            instances = await deps.choices.instances(str(body.get("value", "")))
            return [option(f"{i.name} ({short_id(i.id)})", i.id) for i in instances[:100]]

        await ack(options=await within_budget(load()))

    @app.options(TARGET_BLOCK)
    async def target_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        source_text = selected_source(body.get("view") or {})
        query = str(body.get("value", "")).strip().lower()

        async def load() -> list[Option]:
            if not source_text:
                return [option("Choose a source first", NO_SOURCE_VALUE)]
            source = await deps.choices.resolve_instance(source_text)
            if source is None:
                return [option(clip(f"No DDM instance “{source_text}”", 75), NO_SOURCE_VALUE)]
            usable = [
                t
                for t in await deps.choices.targets(source.id)
                if t.available and (not query or query in t.name.lower() or query in t.id.lower())
            ]
            if not usable:
                return [option("No available target (see the list below)", NO_SOURCE_VALUE)]
            return [option(f"{t.name} ({short_id(t.id)})", t.id) for t in usable[:100]]

        await ack(options=await within_budget(load()))


async def within_budget(load: Coroutine[Any, Any, list[Option]]) -> list[Option]:
    """The options, or one unselectable option saying why there are none (DDM slow or failing)."""
    try:
        return await asyncio.wait_for(load, OPTIONS_BUDGET_SECONDS)
    except TimeoutError:
        return [option("⚠️ DDM is slow to answer; type again", NO_SOURCE_VALUE)]
    except ChoicesUnavailable as exc:
        return [option(clip(f"⚠️ DDM error: {exc}", 75), NO_SOURCE_VALUE)]


def selected_source(view: dict[str, Any]) -> str | None:
    """The source chosen in step 1: from the view state when Slack sends it, else from private_metadata."""
    chosen = (((view.get("state") or {}).get("values") or {}).get(SOURCE_BLOCK) or {}).get(SOURCE_BLOCK) or {}
    selected = chosen.get("selected_option") or {}
    if selected.get("value") and selected["value"] != NO_SOURCE_VALUE:
        return str(selected["value"])
    try:
        return Step1Meta.load(str(view.get("private_metadata") or "")).source_id
    except (ValueError, json.JSONDecodeError):
        return None
