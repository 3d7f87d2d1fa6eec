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
from bot.restore.checks import TARGET, TIME, check_choice
from bot.restore.mapping import Candidate, suggest_mapping
from bot.restore.timeparse import TimeInputError, latest_of, parse_restore_point, picker_epoch_ms
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
    clip,
    escape,
    loading_view,
    message_view,
    out_of_date_view,
    step2_view,
)
from bot.slack.deps import Deps

log = logging.getLogger(__name__)
PUSH_SETTLE_TRIES = 10
PUSH_SETTLE_DELAY = 0.2
SLOW = "DDM is slow to answer right now; press the button again in a moment."
ID_LIMIT = 150
EXACT_LIMIT = 64


async def step1_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps) -> None:
    view = payloads.view(body)
    values = payloads.state_values(view)
    try:
        meta = Step1Meta.load(str(view.get("private_metadata") or ""))
    except FormOutOfDate:
        await ack(response_action="update", view=out_of_date_view())
        return
    try:
        outcome = await asyncio.wait_for(_check_step1(deps, values, meta.channel_id), deps.check_budget_seconds)
    except TimeoutError:
        await ack(response_action="errors", errors={SOURCE_BLOCK: SLOW})
        return
    if isinstance(outcome, dict):
        await ack(response_action="errors", errors=outcome)
        return
    external_id = f"ddm-restore-{uuid.uuid4().hex}"
    await ack(response_action="push", view=loading_view(external_id))
    step2 = Step2Meta(
        channel_id=meta.channel_id,
        source=outcome[0],
        target=outcome[1],
        restore_time_ms=outcome[2],
        source_nodes={},
    )
    deps.tasks.spawn(_fill_step2_safely(deps, client, step2, meta.preferred_map, external_id), name="fill step 2")


async def _check_step1(
    deps: Deps, values: dict[str, Any], channel_id: str
) -> dict[str, str] | tuple[tuple[str, str], tuple[str, str], int]:
    """Field errors, or ((source id, name), (target id, name), restore time ms)."""
    choices = deps.choices_in(channel_id)
    errors: dict[str, str] = {}
    source_value = _selected_value(values, SOURCE_BLOCK)
    target_value = _selected_value(values, TARGET_BLOCK)
    exact = payloads.text_value(values, EXACT_BLOCK)
    picker = payloads.element(values, TIME_BLOCK).get("selected_date_time")
    time_block = EXACT_BLOCK if exact else TIME_BLOCK
    restore_ms: int | None = None
    latest = False
    if not source_value:
        errors[SOURCE_BLOCK] = "Choose the source DDM instance."
    if not target_value:
        errors[TARGET_BLOCK] = "Choose the target DDM instance."
    for block, value in ((SOURCE_BLOCK, source_value), (TARGET_BLOCK, target_value)):
        if value is not None and len(value) > ID_LIMIT:
            errors[block] = "That is not a DDM instance name or id (too long)."
    if len(exact) > EXACT_LIMIT:
        errors[EXACT_BLOCK] = f"An exact time has at most {EXACT_LIMIT} characters."
    elif exact:
        try:
            point = parse_restore_point(exact)
            latest, restore_ms = point.is_latest, point.epoch_ms
        except TimeInputError as exc:
            errors[EXACT_BLOCK] = str(exc)
    elif picker is not None:
        try:
            restore_ms = picker_epoch_ms(picker)
        except TimeInputError as exc:
            errors[TIME_BLOCK] = str(exc)
    else:
        errors[TIME_BLOCK] = "Pick a restore point, or type an exact time (or latest) below."
    if errors:
        return errors
    assert source_value and target_value
    try:
        source = await choices.resolve_instance(source_value)
        if source is None:
            return {SOURCE_BLOCK: f"No DDM instance is named or has the id “{clip(source_value, 80)}”."}
        windows = await choices.windows(source.id)
    except ChoicesUnavailable as exc:
        return {SOURCE_BLOCK: f"DDM could not be asked: {exc}"}
    if latest:
        restore_ms = latest_of(windows)
        if restore_ms is None:
            return {time_block: "This instance has no restorable time window (no usable backups)."}
    assert restore_ms is not None
    try:
        resolved = await choices.resolve_target(source.id, target_value)
        targets = await choices.targets(source.id)
    except ChoicesUnavailable as exc:
        return {TARGET_BLOCK: f"DDM could not list the restore targets: {exc}"}
    if isinstance(resolved, list):
        ids = ", ".join(t.id for t in resolved)
        return {
            TARGET_BLOCK: f"Several instances are named “{clip(target_value, 80)}” ({clip(ids, 400)}); choose one by its id."
        }
    target = resolved
    # The one plan check's first half; this form only maps its fields to blocks.
    problems = check_choice(
        source=source,
        target_id=target.id if target else (source.id if target_value == source.name else target_value),
        target_label=f"“{clip(target_value, 80)}”",
        restore_time_ms=restore_ms,
        windows=windows,
        targets=targets,
    )
    blocks = {TIME: time_block, TARGET: TARGET_BLOCK}
    for problem in problems:
        errors.setdefault(blocks.get(problem.field, TARGET_BLOCK), problem.message)
    if errors:
        return errors
    assert target is not None
    return (source.id, source.name), (target.id, target.name), restore_ms


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
