"""`/ddm-restore`: help, list, status, or the restore form (optionally pre-filled)."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Option
from slack_sdk.web.async_client import AsyncWebClient

from bot.restore.request import RestoreRequest
from bot.restore.timeparse import iso_utc
from bot.slack.blocks import COMMAND, Step1Meta, message_view, option, status_line, step1_view
from bot.slack.command_text import USAGE, ListRequests, OpenForm, ShowHelp, ShowStatus, parse_command
from bot.slack.listeners import Deps
from bot.slack.listeners.step1 import refresh_step1
from bot.slack.notifier import invite_hint

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command(COMMAND)
    async def on_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        command = parse_command(str(body.get("text", "")))
        user_id = str(body["user_id"])
        channel_id = str(body["channel_id"])
        if isinstance(command, ShowHelp):
            problem = f"⚠️ {command.problem}\n\n" if command.problem else ""
            deps.tasks.spawn(respond(text=problem + USAGE, response_type="ephemeral"), name="help")
        elif isinstance(command, ListRequests):
            deps.tasks.spawn(_list(deps, respond, channel_id), name="list")
        elif isinstance(command, ShowStatus):
            deps.tasks.spawn(_status(deps, respond, command.reference, user_id, channel_id), name="status")
        else:
            deps.tasks.spawn(
                _open_form(
                    deps,
                    client,
                    respond,
                    command,
                    user_id=user_id,
                    channel_id=channel_id,
                    trigger_id=str(body["trigger_id"]),
                ),
                name="open form",
            )


async def _open_form(
    deps: Deps,
    client: AsyncWebClient,
    respond: AsyncRespond,
    form: OpenForm,
    *,
    user_id: str,
    channel_id: str,
    trigger_id: str,
) -> None:
    meta = Step1Meta(channel_id=channel_id, preferred_map=form.mapping)
    source = option(form.source, form.source) if form.source else None
    target = option(form.target, form.target) if form.target else None
    # The trigger expires in 3 s: open the form first, with no cloud call before it.
    try:
        opened = await client.views_open(
            trigger_id=trigger_id, view=step1_view(meta, source=source, target=target, exact_time=form.time_text)
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("views.open failed: %s", error)
        await respond(
            text=f"I could not open the restore form (Slack said `{error}`). Please run `/ddm-restore` again.",
            response_type="ephemeral",
        )
        return
    view = opened["view"]
    problem = await _why_not_here(deps, client, user_id=user_id, channel_id=channel_id)
    if problem is not None:
        await client.views_update(view_id=view["id"], view=message_view("Can't request here", problem))
        await respond(text=problem, response_type="ephemeral")
        return
    if source is not None:
        await refresh_step1(
            deps,
            client,
            view_id=view["id"],
            view_hash=view.get("hash"),
            meta=meta,
            source=Option(text=str(form.source), value=str(form.source)),
            user_id=user_id,
            state_values={},
        )


async def _why_not_here(deps: Deps, client: AsyncWebClient, *, user_id: str, channel_id: str) -> str | None:
    if channel_id.startswith("D"):
        return "Use `/ddm-restore` in a channel, so the team can see and approve the request."
    actor = await deps.directory.actor(user_id)
    refusal = deps.service.policy.can_request(actor, channel_id)
    if refusal is not None:
        return refusal.message
    seen = deps.channels_joined.get(channel_id)
    if seen is not None and time.monotonic() - seen < MEMBERSHIP_CACHE_SECONDS:
        return None
    try:
        info = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("channel_not_found", "not_in_channel"):
            return invite_hint(channel_id)
        # Can't tell (e.g. a group DM needs a scope we don't ask for): posting the card will say if it fails.
        log.info("membership of %s unknown: %s", channel_id, exc.response.get("error"))
        return None
    if not info["channel"].get("is_member", False):
        return invite_hint(channel_id)
    deps.channels_joined[channel_id] = time.monotonic()
    return None


# Only "the bot is in the channel" is remembered, so an /invite takes effect at once; a removal is still
# caught when the card is posted.
MEMBERSHIP_CACHE_SECONDS = 60.0


async def _list(deps: Deps, respond: AsyncRespond, channel_id: str) -> None:
    # Requests of this channel only: a private channel's requests are not for everyone's eyes.
    requests = await deps.service.store.recent(10, channel_id=channel_id)
    if not requests:
        await respond(text="No restore requests in this channel yet.", response_type="ephemeral")
        return
    lines = [_one_line(r) for r in requests]
    await respond(text="*Recent restore requests here*\n" + "\n".join(lines), response_type="ephemeral")


async def _status(deps: Deps, respond: AsyncRespond, reference: str, user_id: str, channel_id: str) -> None:
    request = await deps.service.find(reference)
    if request is None or (request.channel_id != channel_id and request.requester_id != user_id):
        await respond(text=f"I know no request or job “{reference}” in this channel.", response_type="ephemeral")
        return
    plan = request.plan
    lines = [
        _one_line(request),
        f"Restore point {iso_utc(plan.restore_time_ms)} ({plan.restore_time_ms} ms)",
        "Data nodes: " + ", ".join(f"{m.source.label} → {m.target.label}" for m in plan.mappings),
        f"Fingerprint `{request.fingerprint}`",
    ]
    if request.job_id:
        lines.append(f"DDM job `{request.job_id}`")
    if request.error_code:
        lines.append(f"Error `{request.error_code}`: {request.error_msg}")
    await respond(text="\n".join(lines), response_type="ephemeral")


def _one_line(request: RestoreRequest) -> str:
    plan = request.plan
    return (
        f"`{request.id}` {plan.source.label} → {plan.target.label} · {status_line(request)} · by "
        f"<@{request.requester_id}>"
    )
