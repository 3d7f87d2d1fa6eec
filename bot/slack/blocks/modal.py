"""What every modal view shares: Slack's limits (checked before Slack sees a view), the two errors a form can
raise, options, the small views (loading, message, out of date, reject reason), and reading metadata back.

Slack: `private_metadata` ≤ 3000 characters, ≤ 100 blocks, title ≤ 24, option text ≤ 75 and value ≤ 150
characters, ≤ 100 options. Labels, options and titles are plain_text (shown literally: `plain`); section and
context text is mrkdwn (`escape`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.errors import PersonError
from bot.slack.blocks.escaping import clip, plain
from bot.slack.blocks.ids import NO_SOURCE_VALUE, REASON_BLOCK, REJECT_CALLBACK

METADATA_LIMIT = 3000
MAX_BLOCKS = 100
MAX_OPTIONS = 100
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
REASON_LIMIT = 500
TITLE = "Restore DDM data"
OUT_OF_DATE = "This form is out of date; run `/ddm-restore` again."


class FormOutOfDate(PersonError, ValueError):
    """The form's private_metadata can't be read (an old version of the bot, or not ours)."""


class FormTooLarge(PersonError, ValueError):
    """The view would break one of Slack's limits; the message says what to do instead."""


def option(label: str, value: str) -> Option:
    """One option; its value must fit (`options` leaves out the ones that don't)."""
    if len(value) > OPTION_VALUE_LIMIT:
        raise FormTooLarge(f"An option's value may have at most {OPTION_VALUE_LIMIT} characters (got {len(value)}).")
    return Option(text=PlainTextObject(text=plain(label, OPTION_TEXT_LIMIT)), value=value)


def id_label(name: str, shown_id: str, detail: str = "", *, limit: int = OPTION_TEXT_LIMIT) -> str:
    """`name (id[, detail])` for plain text of at most `limit` characters: the name is clipped, never the id
    (it is what tells two alike names apart)."""
    tail = f"({shown_id}, {detail})" if detail and len(shown_id) + len(detail) + 12 <= limit else f"({shown_id})"
    tail = plain(tail, limit - 9)
    return plain(name, limit - len(tail) - 1) + " " + tail


def options(items: Iterable[tuple[str, str]], *, more: str = "…{n} more: type to narrow the list") -> list[Option]:
    """At most 100 options. A value too long for Slack is left out (it could not be chosen whole); when some
    do not fit, the last one is an unselectable note saying how many more there are."""
    usable = [(label, value) for label, value in items if len(value) <= OPTION_VALUE_LIMIT]
    if len(usable) <= MAX_OPTIONS:
        return [option(label, value) for label, value in usable]
    shown = usable[: MAX_OPTIONS - 1]
    return [*(option(label, value) for label, value in shown), note_option(more.format(n=len(usable) - len(shown)))]


def note_option(text: str) -> Option:
    """An option that says something and can't be submitted (its value is never an id)."""
    return option(text, NO_SOURCE_VALUE)


# --- small views -------------------------------------------------------------------------------------------


def loading_view(external_id: str, text: str = "Loading the data nodes from DDM…") -> View:
    return View(
        type="modal",
        external_id=external_id,
        title=TITLE,
        close="Back",
        blocks=[SectionBlock(text=MarkdownTextObject(text=f"⏳ {text}"))],
    )


def message_view(title: str, text: str, *, close: str = "Close", external_id: str | None = None) -> View:
    """A view that only says something. `text` is mrkdwn: escape what came from DDM or people in it."""
    return View(
        type="modal",
        external_id=external_id,
        title=plain(title, 24),
        close=close,
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))],
    )


def out_of_date_view() -> View:
    return message_view("Form out of date", OUT_OF_DATE)


def reject_view(request_id: str) -> View:
    return View(
        type="modal",
        callback_id=REJECT_CALLBACK,
        title=plain(f"Reject {request_id}", 24),
        submit="Reject",
        close="Back",
        private_metadata=request_id,
        blocks=[
            InputBlock(
                block_id=REASON_BLOCK,
                label="Why? (shown on the card)",
                element=PlainTextInputElement(action_id=REASON_BLOCK, multiline=True, max_length=REASON_LIMIT),
            )
        ],
    )


# --- reading metadata back -----------------------------------------------------------------------------------


def json_object(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        raise FormOutOfDate(OUT_OF_DATE) from None
    if not isinstance(data, dict):
        raise FormOutOfDate(OUT_OF_DATE)
    return data


def meta_str(value: Any) -> str:
    if not isinstance(value, str):
        raise FormOutOfDate(OUT_OF_DATE)
    return value


def meta_opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def meta_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormOutOfDate(OUT_OF_DATE)
    return value
