"""Clicks: the source chosen in the modal, Approve / Reject / Cancel on the card, Reviewed in the thread."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.blocks import APPROVE_ACTION, CANCEL_ACTION, REJECT_ACTION, SOURCE_BLOCK
from bot.slack.blocks.ids import NUDGE_ACTION, REVIEW_ACTION
from bot.slack.listeners.actions.card_buttons import (
    approve_request,
    cancel_request,
    nudge_request,
    reject_request,
    review_request,
)
from bot.slack.listeners.actions.source_chosen import source_chosen


def register(app: AsyncApp) -> None:
    app.action(SOURCE_BLOCK)(source_chosen)
    app.action(APPROVE_ACTION)(approve_request)
    app.action(REJECT_ACTION)(reject_request)
    app.action(CANCEL_ACTION)(cancel_request)
    app.action(REVIEW_ACTION)(review_request)
    app.action(NUDGE_ACTION)(nudge_request)
