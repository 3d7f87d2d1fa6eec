"""Approve / Reject / Cancel (and Nudge, where reminders are set up) on the card, and Reviewed under an urgent request's follow-up review. The clicker is
checked every time (Slack has no per-button permission); the answer to a refused click is an ephemeral only the
clicker sees. Refusals come from the workflow and may quote DDM's names: `guard` keeps their mentions and turns
any other markup into text. A click whose work fails (Slack or DDM down, a bug) is never dropped: the clicker
hears what happened and whether their click counted, read back from the store (bot.slack.answers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import Refusal
from bot.slack import payloads
from bot.slack.answers import APPROVE, CANCEL, NUDGE, REVIEW, Click, Tell, failure_answer, spawn_answering, what_failed
from bot.slack.blocks import reject_view
from bot.slack.blocks.escaping import guard
from bot.slack.deps import Deps

# Checking whether a person may reject must not eat the trigger's 3 s.
REJECT_CHECK_BUDGET = 1.5


async def approve_request(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    await _decide(ack, body, deps, APPROVE, deps.desk.approve)


async def cancel_request(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    await _decide(ack, body, deps, CANCEL, deps.desk.cancel)


async def reject_request(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps) -> None:
    """Asks for the reason in a modal (the reject itself happens when it is submitted)."""
    request_id, user_id, channel_id = _click(body)
    trigger_id = str(body.get("trigger_id") or "")
    await ack()

    async def open_reason_dialog() -> None:
        try:
            await asyncio.wait_for(deps.desk.check_reject(request_id, user_id), REJECT_CHECK_BUDGET)
        except TimeoutError:
            pass  # checked again when the reason is submitted
        except Refusal as refusal:
            await deps.notifier.tell(user_id, channel_id, guard(refusal.message))
            return
        await client.views_open(trigger_id=trigger_id, view=reject_view(request_id))

    async def explain(error: Exception) -> str:
        # Opening the dialog records nothing.
        return (
            f"⚠️ I could not open the reason dialog to reject {request_id}: {what_failed(error)}. Nothing was "
            "recorded; press Reject again in a moment."
        )

    spawn_answering(
        deps.tasks, open_reason_dialog(), name="reject", tell=_teller(deps, user_id, channel_id), on_failure=explain
    )


async def review_request(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """[Reviewed] under an urgent request's follow-up review (in its thread)."""
    await _decide(ack, body, deps, REVIEW, deps.desk.review)


async def nudge_request(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """[Nudge] on the card: the requester reminds the current stage's approvers (once per cooldown)."""
    await _decide(ack, body, deps, NUDGE, deps.desk.nudge)


async def _decide(
    ack: AsyncAck,
    body: dict[str, Any],
    deps: Deps,
    kind: Click,
    decide: Callable[[str, str], Awaitable[None]],
) -> None:
    """Ack, then let the workflow decide in the background; a refusal is told to the clicker alone, and so is a
    failure, with whether the click counted."""
    request_id, user_id, channel_id = _click(body)
    await ack()

    async def run() -> None:
        try:
            await decide(request_id, user_id)
        except Refusal as refusal:
            await deps.notifier.tell(user_id, channel_id, guard(refusal.message))

    spawn_answering(
        deps.tasks,
        run(),
        name=kind.noun,
        tell=_teller(deps, user_id, channel_id),
        on_failure=failure_answer(deps.desk.find, kind, request_id, user_id),
    )


def _click(body: dict[str, Any]) -> tuple[str, str, str]:
    """(request id, clicking user, channel) of a card button click; BadPayload (a 400) when unusable."""
    return payloads.request_id_of_button(body), payloads.user_id(body), payloads.channel_of_action(body)


def _teller(deps: Deps, user_id: str, channel_id: str) -> Tell:
    async def tell(text: str) -> None:
        await deps.notifier.tell(user_id, channel_id, text)

    return tell
