"""The restore form's step 1 (source, time, target) and what it carries in `private_metadata`. A view that would
not fit Slack's limits raises `FormTooLarge` with a sentence for the person; metadata that can't be read raises
`FormOutOfDate` (bot.slack.blocks.modal). Step 2 is in bot.slack.blocks.step2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DateTimePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.restore.timeparse import Window, utc_text
from bot.restore.wording import clause
from bot.slack.blocks.escaping import escape
from bot.slack.blocks.ids import EXACT_BLOCK, SOURCE_BLOCK, STEP1_CALLBACK, TARGET_BLOCK, TIME_BLOCK
from bot.slack.blocks.modal import (
    METADATA_LIMIT,
    OUT_OF_DATE,
    TITLE,
    FormOutOfDate,
    FormTooLarge,
    json_object,
    meta_opt_str,
)
from bot.workflow.forms import TYPED_TIME_LIMIT


@dataclass(frozen=True)
class Step1Meta:
    """What step 1 carries in private_metadata."""

    channel_id: str
    source_id: str | None = None
    user_tz: str | None = None
    preferred_map: dict[str, str] = field(default_factory=dict)

    def dump(self) -> str:
        raw = json.dumps(
            {"c": self.channel_id, "s": self.source_id, "tz": self.user_tz, "m": self.preferred_map},
            separators=(",", ":"),
        )
        if len(raw) > METADATA_LIMIT:  # never truncated: that would be invalid JSON
            raise FormTooLarge(
                f"The `map` list is too long for Slack's form ({len(raw)} characters to carry, Slack allows "
                f"{METADATA_LIMIT}). Give fewer or shorter `<source_dn>=<target_dn>` pairs, or none: the form "
                "suggests a mapping you can change."
            )
        return raw

    @classmethod
    def load(cls, raw: str) -> Step1Meta:
        data = json_object(raw or "{}")
        mapping = data.get("m") or {}
        if not isinstance(mapping, dict):
            raise FormOutOfDate(OUT_OF_DATE)
        return cls(
            channel_id=str(data.get("c", "")),
            source_id=meta_opt_str(data.get("s")),
            user_tz=meta_opt_str(data.get("tz")),
            preferred_map={str(k): str(v) for k, v in mapping.items()},
        )


@dataclass(frozen=True)
class SourceHint:
    windows: Sequence[Window]
    unavailable_targets: Sequence[tuple[str, str]] = ()  # (name, reason), both from DDM
    user_tz: str | None = None
    error: str | None = None  # a sentence with DDM's words in it: escaped when shown


def step1_view(
    meta: Step1Meta,
    *,
    source: Option | None = None,
    target: Option | None = None,
    exact_time: str | None = None,
    picker_seconds: int | None = None,
    hint: SourceHint | None = None,
) -> View:
    source_select = ExternalDataSelectElement(
        action_id=SOURCE_BLOCK,
        placeholder="Search by name or id",
        min_query_length=0,
        initial_option=source,
    )
    target_select = ExternalDataSelectElement(
        action_id=TARGET_BLOCK,
        placeholder="Choose a source first" if meta.source_id is None and source is None else "Search targets",
        min_query_length=0,
        initial_option=target,
    )
    blocks: list[Block] = [
        InputBlock(
            block_id=SOURCE_BLOCK,
            label="Source DDM instance",
            element=source_select,
            dispatch_action=True,
            hint="The instance whose data you want back. Type to search by name or id.",
        ),
        ContextBlock(block_id="source_hint", elements=[MarkdownTextObject(text=_hint_text(hint))]),
        InputBlock(
            block_id=TIME_BLOCK,
            label="Restore point",
            element=DateTimePickerElement(action_id=TIME_BLOCK, initial_date_time=picker_seconds),
            optional=True,
            hint="Shown in your time zone, to the minute. For seconds or milliseconds use the exact field.",
        ),
        InputBlock(
            block_id=EXACT_BLOCK,
            label="Exact time",
            element=PlainTextInputElement(
                action_id=EXACT_BLOCK,
                placeholder="2026-11-27T09:12:32.500+08:00 · 1795752174484 · latest",
                initial_value=exact_time,
                max_length=TYPED_TIME_LIMIT,
            ),
            optional=True,
            hint="ISO-8601 with a zone, epoch milliseconds, or latest. Wins over the picker when filled.",
        ),
        InputBlock(
            block_id=TARGET_BLOCK,
            label="Target DDM instance",
            element=target_select,
            hint="A new DDM instance; all its data will be overwritten.",
        ),
    ]
    if hint and hint.unavailable_targets:
        lines = [
            f"• {escape(name, 60)}: {escape(clause(reason, 'unavailable'), 120)}"
            for name, reason in hint.unavailable_targets[:10]
        ]
        more = len(hint.unavailable_targets) - 10
        if more > 0:
            lines.append(f"…and {more} more")
        blocks.append(
            ContextBlock(
                block_id="target_hint",
                elements=[MarkdownTextObject(text="*Not available as targets:*\n" + "\n".join(lines))],
            )
        )
    return View(
        type="modal",
        callback_id=STEP1_CALLBACK,
        title=TITLE,
        submit="Next",
        close="Cancel",
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def blank_step1_view(channel_id: str) -> dict[str, Any]:
    """`step1_view(Step1Meta(channel_id))` as the dict views.open sends: the form of a `/ddm-restore` without
    text. It depends on the channel alone (the choices load through external selects, not into the view), so it
    is built and validated by slack_sdk once per channel; each call returns a fresh copy that its caller may
    change without touching the next one's."""
    view: dict[str, Any] = json.loads(_blank_step1_json(channel_id))
    return view


@lru_cache(maxsize=256)
def _blank_step1_json(channel_id: str) -> str:
    return json.dumps(step1_view(Step1Meta(channel_id=channel_id)).to_dict(), separators=(",", ":"))


def _hint_text(hint: SourceHint | None) -> str:
    if hint is None:
        return "Choose a source to see its restorable window."
    if hint.error:
        return f"⚠️ {escape(hint.error, 1000)}"
    if not hint.windows:
        return "⚠️ This instance has no restorable window (no usable backups)."
    ranges = "; ".join(w.describe() for w in hint.windows[:20])
    latest = max(w.end_ms for w in hint.windows)
    zone = f" · the picker shows your zone ({escape(hint.user_tz, 64)})" if hint.user_tz else ""
    return f"Restorable {ranges} (latest: {utc_text(latest)}){zone}"
