"""The restore form's step 2 (data node mapping, reason, urgency) and what it carries in `private_metadata`.
A view that would not fit Slack's limits raises `FormTooLarge`; metadata that can't be read raises
`FormOutOfDate` (bot.slack.blocks.modal). Step 1 is in bot.slack.blocks.forms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.restore.ids import short_ids
from bot.restore.mapping import Candidate
from bot.restore.timeparse import EARLIEST_MS, END_MS
from bot.restore.wording import clause
from bot.slack.blocks.card import restore_point_text
from bot.slack.blocks.escaping import clip, escape
from bot.slack.blocks.ids import (
    DN_MAP_PREFIX,
    DN_TARGET_ACTION,
    FLOW_BLOCK,
    INCIDENT_BLOCK,
    REASON_BLOCK,
    REQUEST_CALLBACK,
    URGENT_BLOCK,
    URGENT_VALUE,
)
from bot.slack.blocks.modal import (
    MAX_BLOCKS,
    MAX_OPTIONS,
    METADATA_LIMIT,
    OPTION_VALUE_LIMIT,
    OUT_OF_DATE,
    REASON_LIMIT,
    TITLE,
    FormOutOfDate,
    FormTooLarge,
    id_label,
    json_object,
    meta_int,
    meta_str,
    option,
)
from bot.workflow.forms import FlowPreview


@dataclass(frozen=True)
class Step2Meta:
    channel_id: str
    source: tuple[str, str]  # (id, name)
    target: tuple[str, str]
    restore_time_ms: int
    source_nodes: dict[str, str]  # id -> name, in display order

    def dump(self) -> str:
        raw = json.dumps(
            {
                "c": self.channel_id,
                "s": list(self.source),
                "t": list(self.target),
                "ms": self.restore_time_ms,
                "n": self.source_nodes,
            },
            separators=(",", ":"),
        )
        if len(raw) > METADATA_LIMIT:
            raise FormTooLarge(
                f"The source has too many data nodes ({len(self.source_nodes)}) for one Slack form to carry, so "
                "I can't ask for its mapping here. Restore it from the DDM console instead."
            )
        return raw

    @classmethod
    def load(cls, raw: str) -> Step2Meta:
        """The step 2 metadata, or FormOutOfDate when any part is missing or of the wrong kind."""
        data = json_object(raw)
        try:
            nodes = data["n"]
            if not isinstance(nodes, dict) or not nodes:
                raise FormOutOfDate(OUT_OF_DATE)
            if not EARLIEST_MS <= meta_int(data["ms"]) < END_MS:  # no form of ours carries such a time
                raise FormOutOfDate(OUT_OF_DATE)
            return cls(
                channel_id=meta_str(data["c"]),
                source=(meta_str(data["s"][0]), meta_str(data["s"][1])),
                target=(meta_str(data["t"][0]), meta_str(data["t"][1])),
                restore_time_ms=meta_int(data["ms"]),
                source_nodes={meta_str(k): meta_str(v) for k, v in nodes.items()},
            )
        except (KeyError, IndexError, TypeError):
            raise FormOutOfDate(OUT_OF_DATE) from None


@dataclass(frozen=True)
class SourceNodeRow:
    id: str
    name: str
    detail: str  # "MySQL 8.0, 100 GB"
    candidates: Sequence[Candidate]
    suggested: str | None


def step2_view(
    meta: Step2Meta,
    rows: Sequence[SourceNodeRow],
    *,
    external_id: str,
    urgent_allowed: bool = False,
    approval: FlowPreview | None = None,
) -> View:
    """Step 2. FormTooLarge when the data nodes do not fit in one Slack form. With `urgent_allowed` (the
    channel's environment has a break-glass path) it offers "Urgent (break-glass)" and the incident reference.
    `approval` says who the request will be asked of (or the routing rule's refusal), before it is submitted."""
    # Every id in the form, shown long enough to tell apart (two candidates may differ only in their last digits).
    ids = short_ids(
        [meta.source[0], meta.target[0], *(row.id for row in rows), *(c.id for row in rows for c in row.candidates)]
    )
    head: list[Block] = [
        SectionBlock(
            block_id="plan_summary",
            text=MarkdownTextObject(
                text=f"*{escape(meta.source[1], 200)}* `{escape(ids[meta.source[0]])}` → "
                f"*{escape(meta.target[1], 200)}* `{escape(ids[meta.target[0]])}`\n"
                f"*Restore point* {restore_point_text(meta.restore_time_ms)}"
            ),
        ),
        SectionBlock(
            block_id="mapping_title",
            text=MarkdownTextObject(text="*Data node mapping* (source at the restore point → target)"),
        ),
    ]
    tail: list[Block] = [
        *(
            [SectionBlock(block_id=FLOW_BLOCK, text=MarkdownTextObject(text=approval_text(approval)))]
            if approval
            else []
        ),
        InputBlock(
            block_id=REASON_BLOCK,
            label="Reason / ticket",
            element=PlainTextInputElement(
                action_id=REASON_BLOCK, placeholder="INC-4521 bad DELETE on orders", max_length=REASON_LIMIT
            ),
            optional=True,
        ),
        *(_urgent_blocks() if urgent_allowed else []),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"⚠️ All data on *{escape(meta.target[1], 200)}* will be overwritten once the request is "
                    "approved."
                )
            ]
        ),
    ]
    inputs, notes = [], []
    for row in rows:
        inputs.append(_row_input(row, ids))
        notes.append(_row_note(row))
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(inputs) > room:
        raise FormTooLarge(
            f"The source has {len(rows)} data nodes; one Slack form holds at most {room}, so I can't ask for its "
            "mapping here. Restore it from the DDM console instead."
        )
    body: list[Block] = []
    if len(inputs) + sum(note is not None for note in notes) <= room:
        for each, note in zip(inputs, notes, strict=True):
            body.append(each)
            if note is not None:
                body.append(note)
    else:  # the per-row notes do not fit: one note for all rows, after the inputs
        body = list(inputs)
        unusable = [row for row, note in zip(rows, notes, strict=True) if note is not None]
        if len(body) < room and unusable:
            text = "Not usable: " + "; ".join(f"{escape(r.name, 60)}: " + _unusable(r, 2) for r in unusable)
            body.append(ContextBlock(elements=[MarkdownTextObject(text=clip(text, 2000))]))
    return View(
        type="modal",
        callback_id=REQUEST_CALLBACK,
        external_id=external_id,
        title=TITLE,
        submit="Request approval",
        close="Back",
        private_metadata=meta.dump(),
        blocks=[*head, *body, *tail],
    )


def approval_text(approval: FlowPreview) -> str:
    """ "This request needs: DBA lead (1 of @db-leads), then Service owner (@owner) — rule *old restore point*", or
    the refusal of the rule that refuses it. Names and messages are the environments file's: escaped."""
    if approval.refused is not None:
        return f"⛔ *This request can't be made now:* {escape(approval.refused, 1000)}"
    if approval.flow is None:
        return "Who approves is decided when you submit."
    return f"*This request needs:* {approval.flow.describe(lambda name: escape(name, 100))}"


def _urgent_blocks() -> list[Block]:
    return [
        InputBlock(
            block_id=URGENT_BLOCK,
            label="Urgent",
            element=CheckboxesElement(
                action_id=URGENT_BLOCK,
                options=[
                    Option(
                        value=URGENT_VALUE,
                        text="Urgent (break-glass)",
                        description="Only the on-call approvers; a follow-up review afterwards",
                    )
                ],
            ),
            optional=True,
        ),
        InputBlock(
            block_id=INCIDENT_BLOCK,
            label="Incident reference (required when urgent)",
            element=PlainTextInputElement(action_id=INCIDENT_BLOCK, placeholder="INC-9001", max_length=100),
            optional=True,
        ),
    ]


def _row_input(row: SourceNodeRow, ids: dict[str, str]) -> InputBlock:
    available = [c for c in row.candidates if c.available and len(c.id) <= OPTION_VALUE_LIMIT]
    initial = next((c for c in available if c.id == row.suggested), None)
    shown = available[:MAX_OPTIONS]
    if initial is not None and initial not in shown:
        shown = [*shown[: MAX_OPTIONS - 1], initial]
    hint = "Suggested" if initial else None
    if len(available) > MAX_OPTIONS:
        hint = f"{hint + ' · ' if hint else ''}Showing {MAX_OPTIONS} of {len(available)} usable data nodes."
    return InputBlock(
        block_id=f"{DN_MAP_PREFIX}{row.id}",
        label=id_label(row.name, ids[row.id], row.detail, limit=150),
        element=StaticSelectElement(
            action_id=DN_TARGET_ACTION,
            placeholder="Choose a target data node",
            options=[option(id_label(c.name, ids[c.id]), c.id) for c in shown],
            initial_option=option(id_label(initial.name, ids[initial.id]), initial.id) if initial else None,
        ),
        hint=hint,
    )


def _row_note(row: SourceNodeRow) -> ContextBlock | None:
    if not any(not c.available for c in row.candidates):
        return None
    return ContextBlock(elements=[MarkdownTextObject(text=f"Not usable: {_unusable(row, 5)}")])


def _unusable(row: SourceNodeRow, count: int) -> str:
    unavailable = [c for c in row.candidates if not c.available]
    return ", ".join(
        f"{escape(c.name, 60)}: {escape(clause(c.reason, 'unavailable'), 200)}" for c in unavailable[:count]
    )
