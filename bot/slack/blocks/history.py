"""`/ddm-restore history [days] [page]` (ephemeral): one page of an environment's requests, newest first, each on
one line: when and what, who asked, how it ended, who approved (in which stage), the rule that chose its flow and
how long it took."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.restore.figures import figures_of, span
from bot.restore.lifecycle import FINAL_STATES
from bot.restore.request import RestoreRequest
from bot.restore.timeparse import duration_text
from bot.slack.blocks.card import status_icon, status_line
from bot.slack.blocks.escaping import escape, mention, slack_date


def history_text(
    requests: Sequence[RestoreRequest], *, total: int, days: int, page: int, per_page: int, where: str
) -> str:
    """Page `page` of `total` requests made in the last `days` days in `where` (our own mrkdwn: an environment's
    label, escaped by the caller)."""
    window = f"the last {days} days" if days != 1 else "the last day"
    if total == 0:
        return f"No restore requests in {where} in {window}."
    pages = math.ceil(total / per_page)
    if page > pages:
        return f"Page {page} is past the last one ({pages}) of the requests in {where} in {window}."
    head = f"*Restore requests in {where}, {window}*: {total}, newest first · page {page} of {pages}"
    lines = [head, *(history_line(request) for request in requests)]
    if page < pages:
        lines.append(f"Next page: `/ddm-restore history {days} {page + 1}`")
    return "\n".join(lines)


def history_line(request: RestoreRequest) -> str:
    plan = request.plan
    made = request.created_at
    when = slack_date(int(made.timestamp()), "{date_short} {time}", made.strftime("%Y-%m-%d %H:%M UTC"))
    parts = [
        f"• `{request.id}` {when} · {escape(plan.source.label, 100)} → {escape(plan.target.label, 100)}",
        f"by {mention(request.requester_id)} in <#{request.channel_id}>",
        f"{status_icon(request.state)} {status_line(request)}",
    ]
    if request.approvals:
        parts.append("approved by " + ", ".join(_approver(request, a.user_id, a.stage) for a in request.approvals))
    if request.flow is not None and request.flow.rule:
        parts.append(f"rule *{escape(request.flow.rule, 100)}*")
    figures = figures_of(request)
    if figures.to_approval is not None:
        parts.append(f"to approval {duration_text(figures.to_approval)}")
    if figures.job is not None:
        parts.append(f"job {duration_text(figures.job)}")
    if request.state in FINAL_STATES and (took := span(made, request.finished_at or request.updated_at)) is not None:
        parts.append(f"took {duration_text(took)}")
    return " · ".join(parts)


def _approver(request: RestoreRequest, user_id: str, stage: int) -> str:
    flow = request.flow
    if flow is None or not flow.named or not 1 <= stage <= len(flow.stages):
        return mention(user_id)
    return f"{mention(user_id)} ({escape(flow.stages[stage - 1].name, 100)})"
