"""View submissions: step 1 (source, time, target), step 2 (mapping → request), and the reject reason."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import ChoicesUnavailable
from bot.restore.mapping import Candidate, suggest_mapping
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.timeparse import TimeInputError, check_in_windows, latest_of, parse_restore_point
from bot.service import PlanProblem, WorkflowRefused
from bot.slack.blocks import (
    DN_MAP_PREFIX,
    EXACT_BLOCK,
    NO_SOURCE_VALUE,
    REASON_BLOCK,
    REJECT_CALLBACK,
    REQUEST_CALLBACK,
    SOURCE_BLOCK,
    STEP1_CALLBACK,
    TARGET_BLOCK,
    TIME_BLOCK,
    SourceNodeRow,
    Step1Meta,
    Step2Meta,
    loading_view,
    message_view,
    step2_view,
)
from bot.slack.listeners import Deps

log = logging.getLogger(__name__)
PUSH_SETTLE_TRIES = 10
PUSH_SETTLE_DELAY = 0.2
SLOW = "DDM is slow to answer right now; press the button again in a moment."


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(STEP1_CALLBACK)
    async def step1_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        values = view["state"]["values"]
        meta = Step1Meta.load(view.get("private_metadata") or "")
        try:
            outcome = await asyncio.wait_for(_check_step1(deps, values), deps.check_budget_seconds)
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

    @app.view(REQUEST_CALLBACK)
    async def request_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        user_id = str(body["user"]["id"])
        meta = Step2Meta.load(view["private_metadata"])
        plan, errors = _plan_from_step2(deps, meta, view["state"]["values"])
        first_block = next(iter(f"{DN_MAP_PREFIX}{sid}" for sid in meta.source_nodes), REASON_BLOCK)
        if errors or plan is None:
            await ack(response_action="errors", errors=errors or {first_block: "Choose the data node mapping."})
            return
        try:
            problems = await asyncio.wait_for(
                _precheck(deps, plan, user_id, meta.channel_id), deps.check_budget_seconds
            )
        except TimeoutError:
            await ack(response_action="errors", errors={first_block: SLOW})
            return
        if problems:
            await ack(response_action="errors", errors=_errors_on_blocks(problems, meta, first_block))
            return
        await ack(response_action="clear")
        deps.tasks.spawn(_create(deps, plan, user_id, meta.channel_id), name="create request")

    @app.view(REJECT_CALLBACK)
    async def reject_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body["view"]
        request_id = str(view["private_metadata"])
        user_id = str(body["user"]["id"])
        reason = str(view["state"]["values"][REASON_BLOCK][REASON_BLOCK].get("value") or "").strip()
        if not reason:
            await ack(response_action="errors", errors={REASON_BLOCK: "Say why, so the requester can fix it."})
            return
        refusal = await deps.service.reject(request_id, user_id, reason)
        if refusal is not None:
            await ack(response_action="errors", errors={REASON_BLOCK: refusal.message})
            return
        await ack()


# ---- step 1 -------------------------------------------------------------------------------------------------


async def _check_step1(
    deps: Deps, values: dict[str, Any]
) -> dict[str, str] | tuple[tuple[str, str], tuple[str, str], int]:
    """Field errors, or ((source id, name), (target id, name), restore time ms)."""
    errors: dict[str, str] = {}
    source_value = _selected_value(values, SOURCE_BLOCK)
    target_value = _selected_value(values, TARGET_BLOCK)
    exact = str(_block(values, EXACT_BLOCK).get("value") or "").strip()
    picker = _block(values, TIME_BLOCK).get("selected_date_time")
    time_block = EXACT_BLOCK if exact else TIME_BLOCK
    restore_ms: int | None = None
    latest = False
    if not source_value:
        errors[SOURCE_BLOCK] = "Choose the source DDM instance."
    if not target_value:
        errors[TARGET_BLOCK] = "Choose the target DDM instance."
    if exact:
        try:
            point = parse_restore_point(exact)
            latest, restore_ms = point.is_latest, point.epoch_ms
        except TimeInputError as exc:
            errors[EXACT_BLOCK] = str(exc)
    elif picker is not None:
        restore_ms = int(picker) * 1000
    else:
        errors[TIME_BLOCK] = "Pick a restore point, or type an exact time (or latest) below."
    if errors:
        return errors
    assert source_value and target_value
    try:
        source = await deps.choices.resolve_instance(source_value)
        if source is None:
            return {SOURCE_BLOCK: f"No DDM instance is named or has the id “{source_value}”."}
        windows = await deps.choices.windows(source.id)
    except ChoicesUnavailable as exc:
        return {SOURCE_BLOCK: f"DDM could not be asked: {exc}"}
    if latest:
        restore_ms = latest_of(windows)
        if restore_ms is None:
            return {time_block: "This instance has no restorable time window (no usable backups)."}
    assert restore_ms is not None
    if problem := check_in_windows(restore_ms, windows):
        errors[time_block] = problem
    try:
        resolved = await deps.choices.resolve_target(source.id, target_value)
    except ChoicesUnavailable as exc:
        return {TARGET_BLOCK: f"DDM could not list the restore targets: {exc}"}
    target = resolved if not isinstance(resolved, list) else None
    if target_value in (source.id, source.name):
        errors[TARGET_BLOCK] = "The target must be another DDM instance than the source."
    elif isinstance(resolved, list):
        ids = ", ".join(t.id for t in resolved)
        errors[TARGET_BLOCK] = f"Several instances are named “{target_value}” ({ids}); choose one by its id."
    elif target is None:
        errors[TARGET_BLOCK] = f"“{target_value}” is not a restore target for {source.name}."
    elif not target.available:
        errors[TARGET_BLOCK] = f"{target.name} can't be used: {target.reason or 'unavailable'}."
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
        nodes = await deps.choices.source_nodes(source_id, restore_ms)
        candidate_lists = await asyncio.gather(
            *[
                deps.choices.candidates(source_id, target_id=target_id, source_node_id=n.id, restore_time_ms=restore_ms)
                for n in nodes
            ]
        )
    except ChoicesUnavailable as exc:
        text = f"⚠️ DDM could not list the data nodes: {exc}\nGo back and try again."
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
        lines = [f"• *{n.name}*: " + _reasons(candidates[n.id]) for n in missing]
        await _update_pushed(
            client,
            external_id,
            message_view(
                "No target data node",
                "⚠️ These source data nodes have no usable target data node on "
                f"{meta.target[1]}:\n" + "\n".join(lines) + "\nAdd or free RDS instances, or choose another target.",
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
    await _update_pushed(client, external_id, step2_view(meta, rows, external_id=external_id))


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
    return "; ".join(f"{c.name}: {c.reason or 'unavailable'}" for c in candidates[:5])


def _resolve_preferred(preferred: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """`map` pairs may use names or ids; turn them into ids."""
    by_name = {name.lower(): node_id for node_id, name in names.items()}
    resolved: dict[str, str] = {}
    for source, target in preferred.items():
        source_id = source if source in names else by_name.get(source.lower(), source)
        target_id = target if target in names else by_name.get(target.lower(), target)
        resolved[source_id] = target_id
    return resolved


# ---- step 2 -------------------------------------------------------------------------------------------------


def _plan_from_step2(deps: Deps, meta: Step2Meta, values: dict[str, Any]) -> tuple[RestorePlan | None, dict[str, str]]:
    errors: dict[str, str] = {}
    mappings: list[DataNodeMapping] = []
    used: dict[str, str] = {}
    for source_id, source_name in meta.source_nodes.items():
        block = f"{DN_MAP_PREFIX}{source_id}"
        chosen = ((values.get(block) or {}).get("dn_target") or {}).get("selected_option")
        if not chosen:
            errors[block] = f"Choose a target data node for {source_name}."
            continue
        target_id = str(chosen["value"])
        target_name = str(chosen["text"]["text"]).rsplit(" (", 1)[0]
        if target_id in used:
            errors[block] = f"{target_name} is already the target of {used[target_id]}; use each target once."
            continue
        used[target_id] = source_name
        mappings.append(
            DataNodeMapping(
                source=NamedRef(id=source_id, name=source_name), target=NamedRef(id=target_id, name=target_name)
            )
        )
    if errors:
        return None, errors
    reason = str(((values.get(REASON_BLOCK) or {}).get(REASON_BLOCK) or {}).get("value") or "").strip()
    plan = deps.service.new_plan(
        source=NamedRef(id=meta.source[0], name=meta.source[1]),
        target=NamedRef(id=meta.target[0], name=meta.target[1]),
        restore_time_ms=meta.restore_time_ms,
        mappings=tuple(mappings),
        reason=reason,
    )
    return plan, {}


async def _precheck(deps: Deps, plan: RestorePlan, user_id: str, channel_id: str) -> list[PlanProblem]:
    """Everything that can refuse the request, asked before the modal closes (no side effects)."""
    try:
        await deps.service.precheck_create(plan, requester_id=user_id, channel_id=channel_id)
    except WorkflowRefused as refused:
        return [PlanProblem(refused.field or "dn_map", refused.message)]
    return await deps.service.check_plan_live(plan)


def _errors_on_blocks(problems: list[PlanProblem], meta: Step2Meta, fallback: str) -> dict[str, str]:
    present = {f"{DN_MAP_PREFIX}{sid}" for sid in meta.source_nodes} | {REASON_BLOCK}
    errors: dict[str, str] = {}
    for problem in problems:
        block = problem.field if problem.field in present else fallback
        prefix = "" if problem.field in present else "Go back: "
        errors[block] = (errors[block] + " " if block in errors else "") + prefix + problem.message
    return errors


async def _create(deps: Deps, plan: RestorePlan, user_id: str, channel_id: str) -> None:
    try:
        await deps.service.create(plan, requester_id=user_id, channel_id=channel_id)
    except WorkflowRefused as refused:
        await deps.notifier.tell(user_id, channel_id, f"Your restore request was not created: {refused.message}")


def _block(values: dict[str, Any], block: str) -> dict[str, Any]:
    return dict((values.get(block) or {}).get(block) or {})


def _selected_value(values: dict[str, Any], block: str) -> str | None:
    chosen = _block(values, block).get("selected_option") or {}
    value = chosen.get("value")
    return str(value) if value and value != NO_SOURCE_VALUE else None
