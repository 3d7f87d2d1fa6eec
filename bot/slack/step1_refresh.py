"""Filling step 1 of the modal once a source is known: window hint, picker default, unavailable targets.
Used by the source select (bot.slack.listeners.actions) and by a pre-filled command (…commands); whatever the
person already has in the form (`Held`: target, exact time, picked time) is kept in the rebuilt view."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Option
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import ChoicesUnavailable
from bot.restore.facts import TargetCandidate
from bot.restore.ids import short_id, short_ids
from bot.restore.timeparse import TimeInputError, picker_epoch_ms
from bot.slack import payloads
from bot.slack.blocks import (
    EXACT_BLOCK,
    TARGET_BLOCK,
    TIME_BLOCK,
    SourceHint,
    Step1Meta,
    option,
    step1_view,
)
from bot.slack.blocks.modal import OPTION_VALUE_LIMIT, id_label
from bot.slack.deps import Deps
from bot.workflow.forms import TYPED_TIME_LIMIT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    """What step 1 holds besides the source, kept when the view is rebuilt around a new source."""

    target: Option | None = None
    exact: str | None = None
    picker_seconds: int | None = None

    @classmethod
    def from_state(cls, values: dict[str, Any]) -> Held:
        """What the person has entered so far, from the view's state (anything unusable is dropped)."""
        return cls(
            target=_selected(values, TARGET_BLOCK),
            exact=payloads.text_value(values, EXACT_BLOCK)[:TYPED_TIME_LIMIT] or None,
            picker_seconds=_picker_seconds(values),
        )


async def refresh_step1(
    deps: Deps,
    client: AsyncWebClient,
    *,
    view_id: str,
    view_hash: str | None,
    meta: Step1Meta,
    source: Option,
    user_id: str,
    held: Held,
) -> None:
    source_id = str(source.value)
    target = held.target
    hint: SourceHint
    try:
        instance = await deps.choices_in(meta.channel_id).resolve_instance(source_id)
        if instance is None:
            hint = SourceHint(windows=(), error=f"No DDM instance is named or has the id “{source_id}”.")
        else:
            source_id = instance.id
            source = option(id_label(instance.name, short_id(instance.id)), instance.id)
            windows = await deps.choices_in(meta.channel_id).windows(source_id)
            targets = await deps.choices_in(meta.channel_id).targets(source_id)
            unavailable = [(t.name, t.reason or "unavailable") for t in targets if not t.available]
            hint = SourceHint(windows=windows, unavailable_targets=unavailable)
            target = _named_target(target, targets)
    except ChoicesUnavailable as exc:
        hint = SourceHint(windows=(), error=f"DDM could not be asked: {exc}")
    try:
        tz = (await deps.directory.user(user_id)).tz
    except SlackApiError:
        tz = None
    hint = SourceHint(windows=hint.windows, unavailable_targets=hint.unavailable_targets, user_tz=tz, error=hint.error)
    meta = Step1Meta(channel_id=meta.channel_id, source_id=source_id, user_tz=tz, preferred_map=meta.preferred_map)
    picker = held.picker_seconds
    if picker is None and hint.windows:
        # Default the picker to the latest restorable minute (rounded down, so it stays inside the window).
        picker = max(w.end_ms for w in hint.windows) // 60_000 * 60
    view = step1_view(meta, source=source, target=target, exact_time=held.exact, picker_seconds=picker, hint=hint)
    try:
        await client.views_update(view_id=view_id, hash=view_hash, view=view)
    except SlackApiError as exc:
        # hash_conflict: the person changed something meanwhile; their newer action refreshes the view again.
        log.info("step 1 update skipped: %s", exc.response.get("error"))
    except Exception:
        log.exception("step 1 update failed")


def _named_target(held: Option | None, targets: list[TargetCandidate]) -> Option | None:
    """The held target as DDM names it (`orders-restore-1 (2f0324a9…in09)`, by its id) when it is one of the
    source's targets by id or by a name no other target has; else as it was (step 1's check will say why)."""
    if held is None:
        return None
    wanted = str(held.value)
    matches = [t for t in targets if t.id == wanted] or [t for t in targets if t.name == wanted]
    if len(matches) != 1 or len(matches[0].id) > OPTION_VALUE_LIMIT:
        return held
    found = matches[0]
    return option(id_label(found.name, short_ids(t.id for t in targets)[found.id]), found.id)


def _picker_seconds(values: dict[str, Any]) -> int | None:
    """What the person picked so far, kept across the refresh (only a time the form accepts)."""
    picked = payloads.element(values, TIME_BLOCK).get("selected_date_time")
    if picked is None:
        return None
    try:
        return picker_epoch_ms(picked) // 1000
    except TimeInputError:
        return None


def _selected(values: dict[str, Any], block: str) -> Option | None:
    chosen = payloads.selected(values, block)
    return None if chosen is None or len(chosen[0]) > OPTION_VALUE_LIMIT else option(chosen[1], chosen[0])
