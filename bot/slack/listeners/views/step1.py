"""Step 1 submitted (source, restore point, target): checked live against DDM within Slack's 3 s, then step 2 is
pushed as "Loading…" and filled in the background."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import ChoicesUnavailable
from bot.restore.mapping import Candidate
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
from bot.workflow.forms import Choice, Field, FieldProblems, Step1Entry, check_step1, flow_preview, mapping_choices

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
    user_id = payloads.user_id(body)
    deps.tasks.spawn(_fill_step2_safely(deps, client, meta, checked, external_id, user_id), name="fill step 2")


async def _fill_step2_safely(
    deps: Deps, client: AsyncWebClient, meta: Step1Meta, choice: Choice, external_id: str, user_id: str
) -> None:
    """Never leave the person on "Loading…": any failure becomes a message in the form."""
    try:
        await _fill_step2(deps, client, meta, choice, external_id, user_id)
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
    deps: Deps, client: AsyncWebClient, meta: Step1Meta, choice: Choice, external_id: str, user_id: str
) -> None:
    try:
        found = await mapping_choices(deps.choices_in(meta.channel_id), choice, meta.preferred_map)
    except ChoicesUnavailable as exc:
        text = f"⚠️ DDM could not list the data nodes: {escape(exc, 1000)}\nGo back and try again."
        await _update_pushed(
            client, external_id, message_view("DDM error", text, close="Back", external_id=external_id)
        )
        return
    if not found.nodes:
        text = "⚠️ DDM lists no data nodes for the source at that restore point."
        await _update_pushed(
            client, external_id, message_view("No data nodes", text, close="Back", external_id=external_id)
        )
        return
    if missing := found.unmappable:
        lines = [f"• *{escape(n.node.name, 80)}*: " + _reasons(n.candidates) for n in missing[:20]]
        await _update_pushed(
            client,
            external_id,
            message_view(
                "No target data node",
                "⚠️ These source data nodes have no usable target data node on "
                f"{escape(choice.target.name, 200)}:\n"
                + "\n".join(lines)
                + "\nAdd or free RDS instances, or choose another target.",
                close="Back",
                external_id=external_id,
            ),
        )
        return
    step2 = Step2Meta(
        channel_id=meta.channel_id,
        source=(choice.source.id, choice.source.name),
        target=(choice.target.id, choice.target.name),
        restore_time_ms=choice.restore_time_ms,
        source_nodes={n.node.id: n.node.name for n in found.nodes},
    )
    rows = [
        SourceNodeRow(
            id=n.node.id, name=n.node.name, detail=n.node.detail, candidates=n.candidates, suggested=n.suggested
        )
        for n in found.nodes
    ]
    # Who will be asked (or the routing rule that refuses it), shown before the request is submitted.
    approval = await flow_preview(deps.desk, choice, len(found.nodes), requester_id=user_id, channel_id=meta.channel_id)
    try:
        place = deps.places.for_channel(meta.channel_id)
        urgent_allowed = place is not None and place.policy.urgent is not None
        view = step2_view(step2, rows, external_id=external_id, urgent_allowed=urgent_allowed, approval=approval)
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


def _reasons(candidates: Sequence[Candidate]) -> str:
    if not candidates:
        return "no candidates at all"
    return "; ".join(f"{escape(c.name, 80)}: {escape(clause(c.reason, 'unavailable'), 200)}" for c in candidates[:5])


def _selected_value(values: dict[str, Any], block: str) -> str | None:
    chosen = payloads.selected(values, block)
    return chosen[0] if chosen and chosen[0] != NO_SOURCE_VALUE else None
