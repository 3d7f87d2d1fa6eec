"""Options loads for the external selects: live DDM instances and restore targets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.huawei.errors import HuaweiError
from bot.slack.blocks import NO_SOURCE_VALUE, SOURCE_BLOCK, TARGET_BLOCK, Step1Meta, clip, option, short_id
from bot.slack.listeners import Deps

# Options must be answered within Slack's 3 s, DDM's retries notwithstanding.
OPTIONS_BUDGET_SECONDS = 2.3


def register(app: AsyncApp, deps: Deps) -> None:
    @app.options(SOURCE_BLOCK)
    async def source_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            instances = await asyncio.wait_for(
                deps.choices.instances(str(body.get("value", ""))), OPTIONS_BUDGET_SECONDS
            )
        except TimeoutError:
            await ack(options=[option("⚠️ DDM is slow to answer; type again", NO_SOURCE_VALUE)])
            return
        except HuaweiError as exc:
            await ack(options=[option(clip(f"⚠️ DDM error: {exc}", 75), NO_SOURCE_VALUE)])
            return
        await ack(options=[option(f"{i.name} ({short_id(i.id)})", i.id) for i in instances[:100]])

    @app.options(TARGET_BLOCK)
    async def target_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        source_id = selected_source(body.get("view") or {})
        if not source_id:
            await ack(options=[option("Choose a source first", NO_SOURCE_VALUE)])
            return
        try:
            async with asyncio.timeout(OPTIONS_BUDGET_SECONDS):
                source = await deps.choices.resolve_instance(source_id)
                if source is None:
                    await ack(options=[option(clip(f"No DDM instance “{source_id}”", 75), NO_SOURCE_VALUE)])
                    return
                targets = await deps.choices.targets(source.id)
        except TimeoutError:
            await ack(options=[option("⚠️ DDM is slow to answer; type again", NO_SOURCE_VALUE)])
            return
        except HuaweiError as exc:
            await ack(options=[option(clip(f"⚠️ DDM error: {exc}", 75), NO_SOURCE_VALUE)])
            return
        query = str(body.get("value", "")).strip().lower()
        usable = [
            t
            for t in targets
            if t.available and (not query or query in t.instance_name.lower() or query in t.instance_id.lower())
        ]
        if not usable:
            await ack(options=[option("No available target (see the list below)", NO_SOURCE_VALUE)])
            return
        await ack(
            options=[option(f"{t.instance_name} ({short_id(t.instance_id)})", t.instance_id) for t in usable[:100]]
        )


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
