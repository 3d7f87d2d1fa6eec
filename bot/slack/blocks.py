"""Block Kit builders: plain functions from domain objects to `slack_sdk.models` (validated by `to_dict()`).

Stable ids (tests, docs and users' automations rely on them) are module constants; see README
"Interaction reference".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DateTimePickerElement,
    DividerBlock,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.restore.mapping import Candidate
from bot.restore.plan import short_fingerprint
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.texts import duration_text
from bot.restore.timeparse import Window, iso_utc, utc_text

# --- interaction ids ---------------------------------------------------------------------------------------
COMMAND = "/ddm-restore"
STEP1_CALLBACK = "ddm_restore_source"
REQUEST_CALLBACK = "ddm_restore_request"
REJECT_CALLBACK = "reject_reason"
SOURCE_BLOCK = "source_instance"
TIME_BLOCK = "restore_time"
EXACT_BLOCK = "restore_time_exact"
TARGET_BLOCK = "target_instance"
DN_MAP_PREFIX = "dn_map:"
REASON_BLOCK = "reason"
APPROVE_ACTION = "approve_request"
REJECT_ACTION = "reject_request"
CANCEL_ACTION = "cancel_request"
NO_SOURCE_VALUE = "__choose_source_first__"

_STATUS_ICON = {
    RequestState.PENDING: "🟡",
    RequestState.APPROVED: "🟢",
    RequestState.SUBMITTING: "🟢",
    RequestState.RUNNING: "🔵",
    RequestState.UNKNOWN: "🟠",
    RequestState.COMPLETED: "✅",
    RequestState.FAILED: "🔴",
    RequestState.REJECTED: "⛔",
    RequestState.CANCELLED: "⚪",
    RequestState.EXPIRED: "⚪",
}


def short_id(value: str) -> str:
    """`aaaa…in09`: enough of a 36-char id to tell instances apart at a glance."""
    return value if len(value) <= 12 else f"{value[:4]}…{value[-4:]}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(epoch_seconds: int, fmt: str, fallback: str) -> str:
    """Rendered by Slack in each viewer's own time zone."""
    return f"<!date^{epoch_seconds}^{fmt}|{fallback}>"


def escape(text: str) -> str:
    """People's free text inside mrkdwn: no mentions, links or fake card lines."""
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def option(label: str, value: str) -> Option:
    return Option(text=PlainTextObject(text=clip(label, 75)), value=value[:150])


# --- the card ------------------------------------------------------------------------------------------------


def status_line(request: RestoreRequest) -> str:
    state = request.state
    if state is RequestState.PENDING:
        expires = int(request.expires_at.timestamp())
        return f"awaiting approval ({len(request.approvals)}/{request.required_approvals}) · expires " + slack_date(
            expires, "{time}", request.expires_at.strftime("%H:%M UTC")
        )
    if state in (RequestState.APPROVED, RequestState.SUBMITTING):
        who = ", ".join(f"<@{uid}>" for uid in request.approver_ids)
        return f"approved by {who} · submitting to DDM"
    if state is RequestState.RUNNING:
        return f"running {request.job_progress or 0}%"
    if state is RequestState.UNKNOWN:
        return "outcome unknown · looking for the job in DDM's job list"
    if state is RequestState.COMPLETED:
        took = (
            f" in {duration_text(request.finished_at - request.submitted_at)}"
            if request.finished_at and request.submitted_at
            else ""
        )
        return f"completed{took}"
    if state is RequestState.FAILED:
        return f"failed {request.error_code or ''}".strip()
    if state is RequestState.REJECTED:
        reason = f': "{clip(escape(request.decision_note), 300)}"' if request.decision_note else ""
        return f"rejected by <@{request.decided_by}>{reason}"
    if state is RequestState.CANCELLED:
        by = f"<@{request.decided_by}>" if request.decided_by and request.decided_by != "system" else "the bot"
        return f"cancelled by {by}"
    return "expired"


def restore_point_text(epoch_ms: int) -> str:
    fallback = utc_text(epoch_ms)
    return slack_date(epoch_ms // 1000, "{date_long_pretty} {time_secs}", fallback) + f"   ({fallback} · {epoch_ms} ms)"


def request_card(request: RestoreRequest, *, approvers: str) -> list[Block]:
    plan = request.plan
    icon = _STATUS_ICON[request.state]
    blocks: list[Block] = [
        SectionBlock(
            block_id="card_status",
            text=MarkdownTextObject(text=f"{icon} *DDM restore request* `{request.id}` · {status_line(request)}"),
        ),
        ContextBlock(
            block_id="card_requester",
            elements=[
                MarkdownTextObject(
                    text=f"Requested by <@{request.requester_id}>"
                    + (f" · reason: {clip(escape(plan.reason), 300)}" if plan.reason else "")
                )
            ],
        ),
        SectionBlock(
            block_id="card_instances",
            fields=[
                MarkdownTextObject(text=f"*Source*\n{plan.source.label}  `{plan.source.id}`"),
                MarkdownTextObject(text=f"*Target*\n{plan.target.label}  `{plan.target.id}`"),
            ],
        ),
        SectionBlock(
            block_id="card_warning",
            text=MarkdownTextObject(
                text=f"⚠️ *All data on {plan.target.label} will be overwritten*; it is unavailable during the restore."
            ),
        ),
        SectionBlock(
            block_id="card_time",
            text=MarkdownTextObject(text="*Restore point*  " + restore_point_text(plan.restore_time_ms)),
        ),
        SectionBlock(
            block_id="card_nodes",
            text=MarkdownTextObject(text=clip(_mapping_lines(request), 3000)),
        ),
    ]
    facts = [f"Plan fingerprint `{short_fingerprint(request.fingerprint)}`"]
    if request.approvals:
        facts.append("Approved by " + ", ".join(f"<@{uid}>" for uid in request.approver_ids))
    if request.state is RequestState.PENDING:
        facts.append(f"Approvers: {approvers}")
    if request.job_id:
        facts.append(f"Job `{request.job_id}`")
    if request.state is RequestState.FAILED and request.error_msg:
        facts.append(f"Error: {clip(request.error_msg, 500)}")
    blocks.append(ContextBlock(block_id="card_facts", elements=[MarkdownTextObject(text=" · ".join(facts))]))
    if request.state is RequestState.PENDING:
        blocks.append(_card_buttons(request))
    return blocks


def _mapping_lines(request: RestoreRequest) -> str:
    lines = [
        f"{m.source.label} `{short_id(m.source.id)}` → {m.target.label} `{short_id(m.target.id)}`"
        for m in request.plan.mappings
    ]
    return "*Data nodes*\n" + "\n".join(lines)


def _card_buttons(request: RestoreRequest) -> ActionsBlock:
    plan = request.plan
    confirm = ConfirmObject(
        title="Approve this restore?",
        text=MarkdownTextObject(
            text=clip(
                f"Overwrite *{plan.target.label}* with *{plan.source.label}* as of {utc_text(plan.restore_time_ms)}? "
                f"All data on {plan.target.label} will be lost.",
                300,
            )
        ),
        confirm="Approve",
        deny="Back",
        style="danger",
    )
    return ActionsBlock(
        block_id="card_actions",
        elements=[
            ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=request.id, style="primary", confirm=confirm),
            ButtonElement(text="Reject", action_id=REJECT_ACTION, value=request.id, style="danger"),
            ButtonElement(text="Cancel", action_id=CANCEL_ACTION, value=request.id),
        ],
    )


def card_fallback_text(request: RestoreRequest) -> str:
    plan = request.plan
    return (
        f"DDM restore request {request.id} ({request.state.value}): {plan.source.label} → {plan.target.label} "
        f"as of {iso_utc(plan.restore_time_ms)}"
    )


# --- the modal, step 1 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step1Meta:
    """What step 1 carries in private_metadata (kept well below Slack's 3000 characters)."""

    channel_id: str
    source_id: str | None = None
    user_tz: str | None = None
    preferred_map: dict[str, str] = field(default_factory=dict)

    def dump(self) -> str:
        # Never truncated (that would be invalid JSON): the command parser bounds the map's size.
        return json.dumps(
            {"c": self.channel_id, "s": self.source_id, "tz": self.user_tz, "m": self.preferred_map},
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, raw: str) -> Step1Meta:
        data = json.loads(raw or "{}")
        return cls(
            channel_id=str(data.get("c", "")),
            source_id=data.get("s"),
            user_tz=data.get("tz"),
            preferred_map={str(k): str(v) for k, v in (data.get("m") or {}).items()},
        )


@dataclass(frozen=True)
class SourceHint:
    windows: Sequence[Window]
    unavailable_targets: Sequence[tuple[str, str]] = ()  # (name, reason)
    user_tz: str | None = None
    error: str | None = None


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
        ContextBlock(block_id="source_hint", elements=[MarkdownTextObject(text=_hint_text(hint, meta))]),
        InputBlock(
            block_id=TIME_BLOCK,
            label="Restore point",
            element=DateTimePickerElement(action_id=TIME_BLOCK, initial_date_time=picker_seconds),
            optional=True,
            hint="Shown in your time zone, to the minute. For seconds or milliseconds use the exact field.",
        ),
        InputBlock(
            block_id=EXACT_BLOCK,
            label="Exact time (optional)",
            element=PlainTextInputElement(
                action_id=EXACT_BLOCK,
                placeholder="2026-11-27T09:12:32.500+08:00 · 1795752174484 · latest",
                initial_value=exact_time,
                max_length=64,
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
        lines = [f"• {clip(name, 60)}: {clip(reason, 120)}" for name, reason in hint.unavailable_targets[:10]]
        blocks.append(
            ContextBlock(
                block_id="target_hint",
                elements=[MarkdownTextObject(text="*Not available as targets:*\n" + "\n".join(lines))],
            )
        )
    return View(
        type="modal",
        callback_id=STEP1_CALLBACK,
        title="Restore DDM data",
        submit="Next",
        close="Cancel",
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def _hint_text(hint: SourceHint | None, meta: Step1Meta) -> str:
    if hint is None:
        return "Choose a source to see its restorable window."
    if hint.error:
        return f"⚠️ {hint.error}"
    if not hint.windows:
        return "⚠️ This instance has no restorable window (no usable backups)."
    ranges = "; ".join(w.describe() for w in hint.windows)
    latest = max(w.end_ms for w in hint.windows)
    zone = f" · the picker shows your zone ({hint.user_tz})" if hint.user_tz else ""
    return f"Restorable {ranges} (latest: {utc_text(latest)}){zone}"


# --- the modal, step 2 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step2Meta:
    channel_id: str
    source: tuple[str, str]  # (id, name)
    target: tuple[str, str]
    restore_time_ms: int
    source_nodes: dict[str, str]  # id -> name, in display order

    def dump(self) -> str:
        return json.dumps(
            {
                "c": self.channel_id,
                "s": list(self.source),
                "t": list(self.target),
                "ms": self.restore_time_ms,
                "n": self.source_nodes,
            },
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, raw: str) -> Step2Meta:
        data = json.loads(raw)
        return cls(
            channel_id=str(data["c"]),
            source=(str(data["s"][0]), str(data["s"][1])),
            target=(str(data["t"][0]), str(data["t"][1])),
            restore_time_ms=int(data["ms"]),
            source_nodes={str(k): str(v) for k, v in data["n"].items()},
        )


@dataclass(frozen=True)
class SourceNodeRow:
    id: str
    name: str
    detail: str  # "MySQL 8.0, 100 GB"
    candidates: Sequence[Candidate]
    suggested: str | None


def loading_view(external_id: str, text: str = "Loading the data nodes from DDM…") -> View:
    return View(
        type="modal",
        external_id=external_id,
        title="Restore DDM data",
        close="Back",
        blocks=[SectionBlock(text=MarkdownTextObject(text=f"⏳ {text}"))],
    )


def message_view(title: str, text: str, *, close: str = "Close", external_id: str | None = None) -> View:
    return View(
        type="modal",
        external_id=external_id,
        title=clip(title, 24),
        close=close,
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))],
    )


def step2_view(meta: Step2Meta, rows: Sequence[SourceNodeRow], *, external_id: str) -> View:
    blocks: list[Block] = [
        SectionBlock(
            block_id="plan_summary",
            text=MarkdownTextObject(
                text=f"*{meta.source[1]}* `{short_id(meta.source[0])}` → *{meta.target[1]}* "
                f"`{short_id(meta.target[0])}`\n*Restore point* {restore_point_text(meta.restore_time_ms)}"
            ),
        ),
        SectionBlock(
            block_id="mapping_title",
            text=MarkdownTextObject(text="*Data node mapping* (source at the restore point → target)"),
        ),
    ]
    for row in rows:
        available = [c for c in row.candidates if c.available]
        initial = next((c for c in available if c.id == row.suggested), None)
        blocks.append(
            InputBlock(
                block_id=f"{DN_MAP_PREFIX}{row.id}",
                label=clip(f"{row.name} ({short_id(row.id)}, {row.detail})", 150),
                element=StaticSelectElement(
                    action_id="dn_target",
                    placeholder="Choose a target data node",
                    options=[option(f"{c.name} ({short_id(c.id)})", c.id) for c in available[:100]],
                    initial_option=option(f"{initial.name} ({short_id(initial.id)})", initial.id) if initial else None,
                ),
                hint="Suggested" if initial else None,
            )
        )
        unavailable = [c for c in row.candidates if not c.available]
        if unavailable:
            lines = ", ".join(f"{c.name}: {c.reason or 'unavailable'}" for c in unavailable[:5])
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(f"Not usable: {lines}", 3000))]))
    blocks.append(
        InputBlock(
            block_id=REASON_BLOCK,
            label="Reason / ticket",
            element=PlainTextInputElement(
                action_id=REASON_BLOCK, placeholder="INC-4521 bad DELETE on orders", max_length=500
            ),
            optional=True,
        )
    )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"⚠️ All data on *{meta.target[1]}* will be overwritten once the request is approved."
                )
            ]
        )
    )
    return View(
        type="modal",
        callback_id=REQUEST_CALLBACK,
        external_id=external_id,
        title="Restore DDM data",
        submit="Request approval",
        close="Back",
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def reject_view(request_id: str) -> View:
    return View(
        type="modal",
        callback_id=REJECT_CALLBACK,
        title=clip(f"Reject {request_id}", 24),
        submit="Reject",
        close="Back",
        private_metadata=request_id,
        blocks=[
            InputBlock(
                block_id=REASON_BLOCK,
                label="Why? (shown on the card)",
                element=PlainTextInputElement(action_id=REASON_BLOCK, multiline=True, max_length=500),
            )
        ],
    )


def divider() -> DividerBlock:
    return DividerBlock()
