"""The request card in the channel: one message, redrawn from the stored request after every change.

Every string from DDM (names, ids, error codes and messages) and from people (reason, reject note) goes through
`escape`; see bot.slack.blocks.escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.restore.figures import figures_of
from bot.restore.plan import DataNodeMapping, RestorePlan, short_fingerprint
from bot.restore.policy import ApprovalPolicy
from bot.restore.request import SYSTEM, RequestState, RestoreRequest
from bot.restore.timeparse import duration_text, iso_utc, utc_text
from bot.restore.wording import clause
from bot.slack.blocks.escaping import escape, mention, slack_date
from bot.slack.blocks.ids import APPROVE_ACTION, CANCEL_ACTION, NUDGE_ACTION, REJECT_ACTION
from bot.workflow.remind import waiting_on

_STATUS_ICON = {
    RequestState.PENDING: "🟡",
    RequestState.APPROVED: "🟢",
    RequestState.SUBMITTING: "🟢",
    RequestState.RUNNING: "🔵",
    RequestState.UNKNOWN: "🟠",
    RequestState.COMPLETED: "✅",
    RequestState.VERIFYING: "🔵",
    RequestState.VERIFIED: "✅",
    RequestState.VERIFY_FAILED: "🟠",
    RequestState.FAILED: "🔴",
    RequestState.REJECTED: "⛔",
    RequestState.CANCELLED: "⚪",
    RequestState.EXPIRED: "⚪",
}
# Slack: a section's text ≤ 3000 characters, a field ≤ 2000, a confirm dialog's text ≤ 300.
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CONFIRM_LIMIT = 300


def status_icon(state: RequestState) -> str:
    return _STATUS_ICON[state]


def status_line(request: RestoreRequest, stage_header: str = "") -> str:
    state = request.state
    if state is RequestState.PENDING:
        expires = int(request.expires_at.timestamp())
        waiting = stage_header or f"awaiting approval ({len(request.approvals)}/{request.required_approvals})"
        return f"{waiting} · expires " + slack_date(expires, "{time}", request.expires_at.strftime("%H:%M UTC"))
    if state in (RequestState.APPROVED, RequestState.SUBMITTING):
        who = ", ".join(mention(uid) for uid in request.approver_ids)
        return f"approved by {who} · submitting to DDM"
    if state is RequestState.RUNNING:
        return f"running {request.job_progress or 0}%"
    if state is RequestState.UNKNOWN:
        return "outcome unknown · looking for the job in DDM's job list"
    job = figures_of(request).job
    took = f" in {duration_text(job)}" if job is not None else ""
    if state is RequestState.COMPLETED:
        return f"completed{took}"
    if state is RequestState.VERIFYING:
        return f"completed{took} · verifying"
    if state is RequestState.VERIFIED:
        return "verified"
    if state is RequestState.VERIFY_FAILED:
        return "completed, verification failed"
    if state is RequestState.FAILED:
        return f"failed {escape(request.error_code or '', 100)}".strip()
    if state is RequestState.REJECTED:
        reason = f': "{escape(request.decision_note, 300)}"' if request.decision_note else ""
        return f"rejected by {mention(request.decided_by or '?')}{reason}"
    if state is RequestState.CANCELLED:
        by = mention(request.decided_by) if request.decided_by and request.decided_by != SYSTEM else "the bot"
        return f"cancelled by {by}"
    return "expired"


# Failures where the restore never reached DDM, or DDM refused it: the target was not touched.
NOT_SENT_CODES = frozenset({"PLAN_STALE", "PLAN_CHANGED", "APPROVAL_STALE", "NOT_SENT", "INVALID_INPUT"})


def target_line(request: RestoreRequest) -> str:
    """What the request does, did or did not do to its target: a warning while it may still overwrite it, what
    happened once it is over (a finished card never warns of what will no longer happen)."""
    state, target = request.state, escape(request.plan.target.label, 200)
    if state in (RequestState.PENDING, RequestState.APPROVED, RequestState.SUBMITTING):
        return f"⚠️ *All data on {target} will be overwritten*; it is unavailable during the restore."
    if state is RequestState.RUNNING:
        return f"⚠️ *All data on {target} is being overwritten*; it is unavailable until the restore ends."
    if state is RequestState.UNKNOWN:
        return (
            f"⚠️ *{target} may be being overwritten*: the restore was sent but DDM's answer was lost. Treat it as "
            "in use until this card says how it ended."
        )
    if state is RequestState.COMPLETED:
        return f"✅ *All data on {target} was overwritten by this restore.*"
    if state is RequestState.VERIFYING:
        return f"✅ *All data on {target} was overwritten by this restore.* Verifying it now…"
    if state is RequestState.VERIFIED:
        return f"✅ *All data on {target} was overwritten by this restore, and it checked out.*"
    if state is RequestState.VERIFY_FAILED:
        what = escape(clause(request.error_msg), 1000) or "no reason recorded"
        return (
            f"🟠 *All data on {target} was overwritten by this restore, but its verification failed:* {what}. "
            "Look at it before anyone relies on it."
        )
    if state is not RequestState.FAILED:  # rejected, cancelled, expired: never submitted
        return f"*Nothing was changed on {target}.*"
    said = f"“{escape(clause(request.error_msg), 300)}”" if clause(request.error_msg) else "no reason"
    if request.job_id:
        return (
            f"🔴 *The restore job failed, so {target} may be partly overwritten.* DDM said: {said}. Check it in the "
            "DDM console before using it or restoring onto it again."
        )
    if request.error_code == "NO_JOB":
        return (
            f"🟠 *No restore job for {target} appeared in DDM's job list*, so the restore most likely did not start "
            f"({escape(clause(request.error_msg), 300)}). Check {target} in the DDM console before using it."
        )
    if request.error_code in NOT_SENT_CODES:
        return f"*Nothing was changed on {target}*: the restore was not sent ({said})."
    return f"*Nothing was changed on {target}*: DDM refused the restore and said {said}."


def restore_point_text(epoch_ms: int) -> str:
    fallback = utc_text(epoch_ms)
    return slack_date(epoch_ms // 1000, "{date_long_pretty} {time_secs}", fallback) + f"   ({fallback} · {epoch_ms} ms)"


@dataclass(frozen=True)
class CardPeople:
    """Who approves, as the card shows it (our own mrkdwn): `approvers` for one stage; with named stages the
    header's "stage 2 of 2" and the stage lines."""

    approvers: str
    stage_header: str = ""
    stages: str = ""
    waiting: str = ""  # "waiting 47 min on DBA lead · escalated to <!subteam^S0ONCALL>" (environments with reminders)
    nudge: bool = False  # the requester's [Nudge] button (environments with reminders)


def card_people(policy: ApprovalPolicy, request: RestoreRequest, now: datetime) -> CardPeople:
    """Who approves a request, as its card shows it (its environment's stages; how long it has waited)."""
    waiting = waiting_on(request, policy, now) if policy.reminders is not None else ""
    return CardPeople(
        policy.describe_approvers(),
        policy.stage_header(request),
        policy.stage_lines(request),
        waiting,
        nudge=policy.reminders is not None,
    )


def request_card(request: RestoreRequest, *, approvers: str | CardPeople) -> list[Block]:
    """The card's blocks. `approvers` is our own mrkdwn (mentions of the configured people and groups)."""
    people = approvers if isinstance(approvers, CardPeople) else CardPeople(approvers)
    plan = request.plan
    icon = _STATUS_ICON[request.state]
    source, target = escape(plan.source.label, 200), escape(plan.target.label, 200)
    # The environment (from a configuration file) is named: "· prod (cn-north-4)".
    where = f" · {escape(plan.environment, 60)} ({escape(plan.region, 40)})" if plan.environment else ""
    if plan.urgent_incident:
        where = f" · 🚨 *URGENT* · incident {escape(plan.urgent_incident, 100)}" + where
    if plan.drill:
        where = f" · 🧪 *Drill* {escape(plan.drill, 60)}" + where
    blocks: list[Block] = [
        SectionBlock(
            block_id="card_status",
            text=MarkdownTextObject(
                text=f"{icon} *DDM restore request* `{request.id}`{where} · "
                + status_line(request, people.stage_header)
                + (f" · {people.waiting}" if people.waiting and request.state is RequestState.PENDING else "")
            ),
        ),
        ContextBlock(
            block_id="card_requester",
            elements=[
                MarkdownTextObject(
                    text=f"Requested by {mention(request.requester_id)}"
                    + (f" · reason: {escape(plan.reason, 300)}" if plan.reason else "")
                )
            ],
        ),
        SectionBlock(
            block_id="card_instances",
            fields=[
                MarkdownTextObject(text=f"*Source*\n{source}  `{escape(plan.source.id, 200)}`"),
                MarkdownTextObject(text=f"*Target*\n{target}  `{escape(plan.target.id, 200)}`"),
            ],
        ),
        SectionBlock(block_id="card_warning", text=MarkdownTextObject(text=target_line(request))),
        SectionBlock(
            block_id="card_time",
            text=MarkdownTextObject(text="*Restore point*  " + restore_point_text(plan.restore_time_ms)),
        ),
        SectionBlock(block_id="card_nodes", text=MarkdownTextObject(text=_mapping_lines(request))),
    ]
    facts = [f"Plan fingerprint `{short_fingerprint(request.fingerprint)}`"]
    if request.approvals:
        facts.append("Approved by " + ", ".join(mention(uid) for uid in request.approver_ids))
    elif plan.drill and request.approved_at is not None:
        facts.append('Approved by the environments file (the drill\'s `approval = "auto"`)')
    if request.state is RequestState.PENDING and not people.stages:
        facts.append(f"Approvers: {people.approvers}")
    if request.job_id:
        facts.append(f"Job `{escape(request.job_id, 100)}`")
    review = request.review
    if review is not None and review.reviewed_by:
        facts.append(f"Reviewed by {mention(review.reviewed_by)}")
    elif review is not None and review.due_at is not None:
        due_s = int(review.due_at.timestamp())
        facts.append("Follow-up review due " + slack_date(due_s, "{date_short_pretty} {time}", iso_utc(due_s * 1000)))
    if people.stages:
        blocks.append(SectionBlock(block_id="card_stages", text=MarkdownTextObject(text=f"*Stages*  {people.stages}")))
    blocks.append(ContextBlock(block_id="card_facts", elements=[MarkdownTextObject(text=" · ".join(facts))]))
    if request.state is RequestState.PENDING:
        blocks.append(_card_buttons(request, nudge=people.nudge))
    return blocks


def _mapping_lines(request: RestoreRequest) -> str:
    """One line per data node pair; lines that do not fit in the section are counted, never cut in half."""
    title = "*Data nodes*"
    lines: list[str] = []
    used = len(title)
    mappings = request.plan.mappings
    ids = request.plan.short_ids()
    for index, m in enumerate(mappings):
        line = node_pair(m, ids)
        rest = len(mappings) - index
        if used + 1 + len(line) + len(f"\n…and {rest} more") > SECTION_LIMIT and rest > 1:
            lines.append(f"…and {rest} more")
            break
        lines.append(line)
        used += 1 + len(line)
    return title + "\n" + "\n".join(lines)


def node_pair(mapping: DataNodeMapping, ids: dict[str, str], limit: int = 120) -> str:
    """`orders-rds-0 `f4e2949e…in01` → restore1-rds-0 `e0a1…b50in01``: names and ids that tell the nodes apart."""
    return (
        f"{escape(mapping.source.label, limit)} `{escape(ids[mapping.source.id])}` → "
        f"{escape(mapping.target.label, limit)} `{escape(ids[mapping.target.id])}`"
    )


def _confirm_text(plan: RestorePlan) -> str:
    """What the Approve button asks: the target (name and id), the source, the time, and the data nodes when
    they fit in Slack's 300 characters (else the card above shows them)."""
    ids = plan.short_ids()
    source, target = escape(plan.source.label, 60), escape(plan.target.label, 60)
    text = (
        f"Overwrite *{target}* `{escape(ids[plan.target.id], 40)}` with *{source}* as of "
        f"{utc_text(plan.restore_time_ms)}? All its data will be lost."
    )
    nodes = "\nData nodes: " + ", ".join(node_pair(m, ids, 40) for m in plan.mappings)
    if len(text) + len(nodes) <= CONFIRM_LIMIT:
        return text + nodes
    return text + f"\nData nodes: {len(plan.mappings)} pairs, as on the card."


def decision_buttons(request: RestoreRequest) -> list[ButtonElement]:
    """Approve (with its confirm dialog) and Reject: the card's, and the App Home's (the same action ids)."""
    confirm = ConfirmObject(
        title="Approve this restore?",
        text=MarkdownTextObject(text=_confirm_text(request.plan)),
        confirm="Approve",
        deny="Back",
        style="danger",
    )
    return [
        ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=request.id, style="primary", confirm=confirm),
        ButtonElement(text="Reject", action_id=REJECT_ACTION, value=request.id, style="danger"),
    ]


def _card_buttons(request: RestoreRequest, *, nudge: bool = False) -> ActionsBlock:
    buttons = [*decision_buttons(request), ButtonElement(text="Cancel", action_id=CANCEL_ACTION, value=request.id)]
    if nudge:
        buttons.append(ButtonElement(text="Nudge", action_id=NUDGE_ACTION, value=request.id))
    return ActionsBlock(block_id="card_actions", elements=buttons)


def card_fallback_text(request: RestoreRequest) -> str:
    """The message's `text`: what notifications show. Slack reads mentions in it, so it is escaped too."""
    plan = request.plan
    return (
        f"DDM restore request {request.id} ({request.state.value}): {escape(plan.source.label, 200)} → "
        f"{escape(plan.target.label, 200)} as of {iso_utc(plan.restore_time_ms)}"
    )
