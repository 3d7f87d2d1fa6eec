"""Step 1 submitted (source, restore point, target): checked live against DDM within Slack's 3 s, then step 2 is
pushed as "Loading…" and filled in the background."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import ChoicesUnavailable
from bot.restore.mapping import Candidate, suggest_mapping
from bot.restore.wording import clause
from bot.slack import payloads
from bot.slack.blocks import (
    EXACT_BLOCK,
    NO_SOURCE_VALUE,
    SOURCE_BLOCK,
    TARGET_BLOCK,
    TIME_BLOCK,
    FormOutOfDate,
    FormTooLarge,
    SourceNodeRow,
    Step1Meta,
    Step2Meta,
    escape,
    loading_view,
    message_view,
    out_of_date_view,
    step2_view,
)
from bot.slack.deps import Deps
from bot.workflow.forms import Field, FieldProblems, Step1Entry, check_step1

log = logging.getLogger(__name__)
PUSH_SETTLE_TRIES = 10
PUSH_SETTLE_DELAY = 0.2
SLOW = "DDM is slow to answer right now; press the button again in a moment."
# The block each field of step 1 (bot.workflow.forms) is shown on.
BLOCKS = {
    Field.SOURCE: SOURCE_BLOCK,
    Field.PICKED_TIME: TIME_BLOCK,
    Field.TYPED_TIME: EXACT_BLOCK,
    Field.TARGET: TARGET_BLOCK,
}


async def step1_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps) -> None:
    view = payloads.view(body)
    values = payloads.state_values(view)
    try:
        meta = Step1Meta.load(str(view.get("private_metadata") or ""))
    except FormOutOfDate:
        await ack(response_action="update", view=out_of_date_view())
        return
    entry = Step1Entry(
        source=_selected_value(values, SOURCE_BLOCK),
        target=_selected_value(values, TARGET_BLOCK),
        typed_time=payloads.text_value(values, EXACT_BLOCK),
        picked_time=payloads.element(values, TIME_BLOCK).get("selected_date_time"),
    )
    try:
        checked = await asyncio.wait_for(
            check_step1(deps.choices_in(meta.channel_id), entry), deps.check_budget_seconds
        )
    except TimeoutError:
        await ack(response_action="errors", errors={SOURCE_BLOCK: SLOW})
        return
    if isinstance(checked, FieldProblems):
        await ack(response_action="errors", errors={BLOCKS[f]: m for f, m in checked.messages.items()})
        return
    external_id = f"ddm-restore-{uuid.uuid4().hex}"
    await ack(response_action="push", view=loading_view(external_id))
    step2 = Step2Meta(
        channel_id=meta.channel_id,
        source=(checked.source.id, checked.source.name),
        target=(checked.target.id, checked.target.name),
        restore_time_ms=checked.restore_time_ms,
        source_nodes={},
    )
    deps.tasks.spawn(_fill_step2_safely(deps, client, step2, meta.preferred_map, external_id), name="fill step 2")


async def _fill_step2_safely(
    deps: Deps, client: AsyncWebClient, meta: Step2Meta, preferred: dict[str, str], external_id: str
) -> None:
    """Never leave the person on "Loading…": any failure becomes a message in the form."""
    try:
        await _fill_step2(deps, client, meta, preferred, external_id)
    except Exception as exc:
        log.exception("filling step 2 failed")
        text = f"⚠️ Something went wrong preparing the mapping ({type(exc).__name__}). Go back and try again."
        try:
            await _update_pushed(
                client, external_id, message_view("Error", text, close="Back", external_id=external_id)
            )
        except Exception:
            log.warning("could not show the error in the form either")


async def _fill_step2(
    deps: Deps, client: AsyncWebClient, meta: Step2Meta, preferred: dict[str, str], external_id: str
) -> None:
    source_id, target_id, restore_ms = meta.source[0], meta.target[0], meta.restore_time_ms
    try:
        nodes = await deps.choices_in(meta.channel_id).source_nodes(source_id, restore_ms)
        candidate_lists = await asyncio.gather(
            *[
                deps.choices_in(meta.channel_id).candidates(
                    source_id, target_id=target_id, source_node_id=n.id, restore_time_ms=restore_ms
                )
                for n in nodes
            ]
        )
    except ChoicesUnavailable as exc:
        text = f"⚠️ DDM could not list the data nodes: {escape(exc, 1000)}\nGo back and try again."
        await _update_pushed(
            client, external_id, message_view("DDM error", text, close="Back", external_id=external_id)
        )
        return
    if not nodes:
        text = "⚠️ DDM lists no data nodes for the source at that restore point."
        await _update_pushed(
            client, external_id, message_view("No data nodes", text, close="Back", external_id=external_id)
        )
        return
    candidates = {n.id: list(c) for n, c in zip(nodes, candidate_lists, strict=True)}
    names = {n.id: n.name for n in nodes} | {c.id: c.name for cs in candidates.values() for c in cs}
    preferred_ids = _resolve_preferred(preferred, names)
    suggestion = suggest_mapping([n.id for n in nodes], names, candidates, preferred_ids)
    missing = [n for n in nodes if not any(c.available for c in candidates[n.id])]
    if missing:
        lines = [f"• *{escape(n.name, 80)}*: " + _reasons(candidates[n.id]) for n in missing[:20]]
        await _update_pushed(
            client,
            external_id,
            message_view(
                "No target data node",
                "⚠️ These source data nodes have no usable target data node on "
                f"{escape(meta.target[1], 200)}:\n"
                + "\n".join(lines)
                + "\nAdd or free RDS instances, or choose another target.",
                close="Back",
                external_id=external_id,
            ),
        )
        return
    meta = Step2Meta(
        channel_id=meta.channel_id,
        source=meta.source,
        target=meta.target,
        restore_time_ms=restore_ms,
        source_nodes={n.id: n.name for n in nodes},
    )
    rows = [
        SourceNodeRow(id=n.id, name=n.name, detail=n.detail, candidates=candidates[n.id], suggested=suggestion[n.id])
        for n in nodes
    ]
    try:
        place = deps.places.for_channel(meta.channel_id)
        urgent_allowed = place is not None and place.policy.urgent is not None
        view = step2_view(meta, rows, external_id=external_id, urgent_allowed=urgent_allowed)
    except FormTooLarge as exc:
        view = message_view("Too many data nodes", f"⚠️ {exc}", close="Back", external_id=external_id)
    await _update_pushed(client, external_id, view)


async def _update_pushed(client: AsyncWebClient, external_id: str, view: View) -> None:
    """views.update of the view we pushed in our ack. Slack may not have processed that ack yet when this
    arrives (`not_found`), so try a few more times before giving up."""
    for attempt in range(PUSH_SETTLE_TRIES):
        try:
            await client.views_update(external_id=external_id, view=view)
            return
        except SlackApiError as exc:
            if exc.response.get("error") != "not_found" or attempt == PUSH_SETTLE_TRIES - 1:
                raise
            await asyncio.sleep(PUSH_SETTLE_DELAY)


def _reasons(candidates: list[Candidate]) -> str:
    if not candidates:
        return "no candidates at all"
    return "; ".join(f"{escape(c.name, 80)}: {escape(clause(c.reason, 'unavailable'), 200)}" for c in candidates[:5])


def _resolve_preferred(preferred: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """`map` pairs may use names or ids; turn them into ids."""
    by_name = {name.lower(): node_id for node_id, name in names.items()}
    resolved: dict[str, str] = {}
    for source, target in preferred.items():
        source_id = source if source in names else by_name.get(source.lower(), source)
        target_id = target if target in names else by_name.get(target.lower(), target)
        resolved[source_id] = target_id
    return resolved


def _selected_value(values: dict[str, Any], block: str) -> str | None:
    chosen = payloads.selected(values, block)
    return chosen[0] if chosen and chosen[0] != NO_SOURCE_VALUE else None
