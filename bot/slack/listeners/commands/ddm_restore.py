"""`/ddm-restore`: help, list, status, stats, history, policy, whoami, or the restore form (optionally pre-filled)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import Refusal
from bot.slack.answers import spawn_answering, what_failed
from bot.slack.blocks import (
    FormTooLarge,
    Step1Meta,
    blank_step1_view,
    escape,
    guard,
    list_line,
    message_view,
    option,
    stats_text,
    status_text,
    step1_view,
)
from bot.slack.blocks.drills import drill_started_text, drills_text
from bot.slack.blocks.history import history_text
from bot.slack.blocks.whoami import whoami_text
from bot.slack.command_text import (
    USAGE,
    ListRequests,
    OpenForm,
    RunDrill,
    ShowDrills,
    ShowHelp,
    ShowHistory,
    ShowPolicy,
    ShowStats,
    ShowStatus,
    ShowWhoami,
    parse_command,
)
from bot.slack.deps import Deps
from bot.slack.notifier import invite_hint
from bot.slack.payloads import BadPayload
from bot.slack.step1_refresh import Held, refresh_step1
from bot.workflow.desk import HISTORY_PAGE_SIZE
from bot.workflow.lookup import history_here, request_here, requests_here

log = logging.getLogger(__name__)


async def ddm_restore(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, deps: Deps
) -> None:
    """`/ddm-restore [help | list | status <id> | stats [days] | history [days] [page] | policy | whoami | <source>
    at <time> to <target> [map …]]`."""
    user_id, channel_id = str(body.get("user_id") or ""), str(body.get("channel_id") or "")
    if not user_id or not channel_id:
        raise BadPayload("a command needs user_id and channel_id")
    await ack()
    command = parse_command(str(body.get("text") or ""))

    async def tell(text: str) -> None:
        await respond(text=text, response_type="ephemeral")

    if isinstance(command, ShowHelp):
        problem = f"⚠️ {command.problem}\n\n" if command.problem else ""
        deps.tasks.spawn(tell(problem + USAGE), name="help")
    elif isinstance(command, ShowPolicy):
        place = deps.places.for_channel(channel_id)
        text = place.environment.rules_text() if place else deps.places.environments.not_set_up(channel_id)
        deps.tasks.spawn(tell(text), name="policy")
    elif isinstance(command, ShowWhoami):

        async def explain(error: Exception) -> str:
            return f"⚠️ I can't tell what you may do here right now: {what_failed(error)}. Please try again."

        spawn_answering(
            deps.tasks, _whoami(deps, tell, user_id, channel_id), name="whoami", tell=tell, on_failure=explain
        )
    elif isinstance(command, ListRequests):
        spawn_answering(deps.tasks, _list(deps, tell, channel_id), name="list", tell=tell)
    elif isinstance(command, ShowStats):
        spawn_answering(deps.tasks, _stats(deps, tell, command.days), name="stats", tell=tell)
    elif isinstance(command, ShowHistory):
        spawn_answering(deps.tasks, _history(deps, tell, channel_id, command), name="history", tell=tell)
    elif isinstance(command, ShowDrills):
        spawn_answering(deps.tasks, _drills(deps, tell, channel_id), name="drills", tell=tell)
    elif isinstance(command, RunDrill):
        spawn_answering(deps.tasks, _run_drill(deps, tell, command.name, user_id, channel_id), name="drill", tell=tell)
    elif isinstance(command, ShowStatus):
        spawn_answering(
            deps.tasks, _status(deps, tell, command.reference, user_id, channel_id), name="status", tell=tell
        )
    else:
        spawn_answering(
            deps.tasks,
            _open_form(
                deps,
                client,
                tell,
                command,
                user_id=user_id,
                channel_id=channel_id,
                trigger_id=str(body.get("trigger_id") or ""),
            ),
            name="open form",
            tell=tell,
        )


async def _open_form(
    deps: Deps,
    client: AsyncWebClient,
    tell: Callable[[str], Awaitable[None]],
    form: OpenForm,
    *,
    user_id: str,
    channel_id: str,
    trigger_id: str,
) -> None:
    # What is known locally is answered before anything opens (a form that turns into a refusal wastes a minute).
    if (refusal := _why_not_here_locally(deps, channel_id)) is not None:
        await tell(refusal)
        return
    meta = Step1Meta(channel_id=channel_id, preferred_map=form.mapping)
    source = option(form.source, form.source) if form.source else None
    target = option(form.target, form.target) if form.target else None
    # The trigger expires in 3 s: open the form first, with no cloud call before it (building it is local).
    try:
        # A form without text is the same for everyone in the channel: built once (slack_sdk's validation and
        # to_dict were a fifth of the CPU a command costs, and under load acks queue behind that CPU).
        first = (
            blank_step1_view(channel_id)
            if form == OpenForm()
            else step1_view(meta, source=source, target=target, exact_time=form.time_text)
        )
    except FormTooLarge as exc:
        await tell(f"⚠️ I can't open the form: {exc}")
        return
    try:
        opened = await client.views_open(trigger_id=trigger_id, view=first)
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("views.open failed: %s", error)
        await tell(f"I could not open the restore form (Slack said `{error}`). Please run `/ddm-restore` again.")
        return
    view = opened["view"]
    problem = await _why_not_here(deps, client, user_id=user_id, channel_id=channel_id)
    if problem is not None:
        await client.views_update(view_id=view["id"], view=message_view("Can't request here", problem))
        await tell(problem)
        return
    if source is not None:
        await refresh_step1(
            deps,
            client,
            view_id=view["id"],
            view_hash=view.get("hash"),
            meta=meta,
            source=source,
            user_id=user_id,
            # The rebuilt view keeps what the command asked for: the time, the target (and, in meta, the map).
            held=Held(target=target, exact=form.time_text),
        )


# No request is made in a direct message (its channel id starts with D): the card needs the team to see it.
IN_A_CHANNEL = "Use `/ddm-restore` in a channel, so the team can see and approve the request."


def _why_not_here_locally(deps: Deps, channel_id: str) -> str | None:
    """Why no request can be made in this channel, from what the bot knows without asking anyone."""
    if channel_id.startswith("D"):
        return IN_A_CHANNEL
    if deps.places.for_channel(channel_id) is None:
        return deps.places.environments.not_set_up(channel_id)
    return None


async def _why_not_here(deps: Deps, client: AsyncWebClient, *, user_id: str, channel_id: str) -> str | None:
    """Why this person can't request here, as far as Slack must be asked (who they are, whether I'm in it)."""
    place = deps.places.for_channel(channel_id)
    if place is None:
        return deps.places.environments.not_set_up(channel_id)
    actor = await deps.directory.actor(user_id)
    refusal = place.policy.can_request(actor, channel_id)
    if refusal is not None:
        return guard(refusal.message)
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


async def _whoami(deps: Deps, tell: Callable[[str], Awaitable[None]], user_id: str, channel_id: str) -> None:
    standing = await deps.desk.standing(user_id, channel_id)
    if channel_id.startswith("D"):  # the form says so before the policy is asked
        standing = replace(standing, refusal=Refusal("direct_message", IN_A_CHANNEL))
    await tell(whoami_text(standing))


async def _list(deps: Deps, tell: Callable[[str], Awaitable[None]], channel_id: str) -> None:
    if deps.places.for_channel(channel_id) is None:
        await tell(deps.places.environments.not_set_up(channel_id))
        return
    requests = await requests_here(deps.desk, deps.places, channel_id)
    if not requests:
        await tell("No restore requests in this channel yet.")
        return
    await tell("*Recent restore requests here*\n" + "\n".join(list_line(r) for r in requests))


async def _status(
    deps: Deps, tell: Callable[[str], Awaitable[None]], reference: str, user_id: str, channel_id: str
) -> None:
    request = await request_here(deps.desk, deps.places, reference, user_id=user_id, channel_id=channel_id)
    if request is None:
        await tell(f"I know no request or job “{escape(reference, 80)}” in this channel.")
        return
    await tell(status_text(request))


async def _history(deps: Deps, tell: Callable[[str], Awaitable[None]], channel_id: str, asked: ShowHistory) -> None:
    place = deps.places.for_channel(channel_id)
    if place is None:
        await tell(deps.places.environments.not_set_up(channel_id))
        return
    found = await history_here(deps.desk, place, deps.places, asked.days, asked.page)
    where = escape(place.environment.label, 100) if place.environment.name else "this workspace"
    await tell(
        history_text(
            found.requests, total=found.total, days=asked.days, page=asked.page, per_page=HISTORY_PAGE_SIZE, where=where
        )
    )


async def _stats(deps: Deps, tell: Callable[[str], Awaitable[None]], days: int) -> None:
    # Every environment's restores, wherever it is asked: counts and durations only, no request of anyone's.
    def label(name: str) -> str:
        environment = deps.places.environments.named(name)
        return environment.label if environment is not None else name or "default"

    await tell(stats_text(await deps.desk.stats(days), days=days, label=label))


async def _drills(deps: Deps, tell: Callable[[str], Awaitable[None]], channel_id: str) -> None:
    place = deps.places.for_channel(channel_id)
    if place is None:
        await tell(deps.places.environments.not_set_up(channel_id))
        return
    where = escape(place.environment.label, 100) if place.environment.name else "this workspace"
    statuses = await deps.drills.statuses({place.environment.name}) if deps.drills else []
    await tell(drills_text(statuses, where=where))


async def _run_drill(
    deps: Deps, tell: Callable[[str], Awaitable[None]], name: str, user_id: str, channel_id: str
) -> None:
    place = deps.places.for_channel(channel_id)
    if place is None:
        await tell(deps.places.environments.not_set_up(channel_id))
        return
    found = deps.drills.named(name) if deps.drills else None
    if found is None or found[1].environment != place.environment.name:
        known = ", ".join(f"“{escape(d.name, 60)}”" for d in place.environment.drills) or "none"
        await tell(f"No drill “{escape(name, 80)}” in this channel's environment (its drills: {known}).")
        return
    refusal = place.policy.can_request(await deps.directory.actor(user_id), channel_id)
    if refusal is not None:
        await tell(guard(refusal.message))
        return
    assert deps.drills is not None
    drill = found[1]
    # Its own slot (now): a person's run never takes the place of a scheduled one.
    result = await deps.drills.run(found[0], drill, slot=deps.drills.clock(), requester_id=user_id)
    await tell(drill_started_text(drill.name, result))
