"""Block Kit builders: plain functions from domain objects to `slack_sdk.models` (validated by `to_dict()`) and
to mrkdwn text, tested against golden JSON.

- `ids`: the stable interaction ids (never change);
- `escaping`: the one escape for text from DDM and from people;
- `card`: the request card; `forms` and `step2`: the restore form's two steps and their metadata;
  `messages`: thread messages (`render_notice`), ephemerals and status lines.
"""

from __future__ import annotations

from bot.slack.blocks.card import card_fallback_text, request_card, restore_point_text, status_line
from bot.slack.blocks.escaping import clip, escape, guard, mention, plain, slack_date
from bot.slack.blocks.forms import SourceHint, Step1Meta, blank_step1_view, step1_view
from bot.slack.blocks.ids import (
    APPROVE_ACTION,
    CANCEL_ACTION,
    COMMAND,
    DN_MAP_PREFIX,
    DN_TARGET_ACTION,
    EXACT_BLOCK,
    NO_SOURCE_VALUE,
    REASON_BLOCK,
    REJECT_ACTION,
    REJECT_CALLBACK,
    REQUEST_CALLBACK,
    SOURCE_BLOCK,
    STEP1_CALLBACK,
    TARGET_BLOCK,
    TIME_BLOCK,
)
from bot.slack.blocks.messages import final_text, list_line, next_step, render_notice, stats_text, status_text
from bot.slack.blocks.modal import (
    OUT_OF_DATE,
    FormOutOfDate,
    FormTooLarge,
    loading_view,
    message_view,
    note_option,
    option,
    options,
    out_of_date_view,
    reject_view,
)
from bot.slack.blocks.step2 import SourceNodeRow, Step2Meta, step2_view

__all__ = [
    "APPROVE_ACTION",
    "CANCEL_ACTION",
    "COMMAND",
    "DN_MAP_PREFIX",
    "DN_TARGET_ACTION",
    "EXACT_BLOCK",
    "NO_SOURCE_VALUE",
    "OUT_OF_DATE",
    "REASON_BLOCK",
    "REJECT_ACTION",
    "REJECT_CALLBACK",
    "REQUEST_CALLBACK",
    "SOURCE_BLOCK",
    "STEP1_CALLBACK",
    "TARGET_BLOCK",
    "TIME_BLOCK",
    "FormOutOfDate",
    "FormTooLarge",
    "SourceHint",
    "SourceNodeRow",
    "Step1Meta",
    "Step2Meta",
    "blank_step1_view",
    "card_fallback_text",
    "clip",
    "escape",
    "final_text",
    "guard",
    "list_line",
    "loading_view",
    "mention",
    "message_view",
    "next_step",
    "note_option",
    "option",
    "options",
    "out_of_date_view",
    "plain",
    "reject_view",
    "render_notice",
    "request_card",
    "restore_point_text",
    "slack_date",
    "stats_text",
    "status_line",
    "status_text",
    "step1_view",
    "step2_view",
]
