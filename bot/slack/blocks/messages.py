"""What people read in the card's thread, in ephemerals and in `/ddm-restore status|list|stats`.

`render_notice` is the contract with the workflow: a `Notice` (bot.restore.notices) with its params becomes one
mrkdwn message. Strings from DDM and from people are escaped (bot.slack.blocks.escaping); mentions, request ids
and our own sentences are not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from bot.restore.figures import EnvironmentStats, Figures, figures_of
from bot.restore.notices import Notice, ParamValue
from bot.restore.plan import NamedRef, RestorePlan
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.timeparse import duration_text, iso_utc, utc_text
from bot.restore.wording import clause
from bot.slack.blocks.card import node_pair, status_line
from bot.slack.blocks.escaping import escape, mention, slack_date
from bot.slack.blocks.ids import REVIEW_ACTION

# Slack accepts 40,000 characters in a message's text; ours stay far below, DDM's texts are clipped.
DDM_TEXT_LIMIT = 500


def render_notice(request: RestoreRequest, notice: Notice, params: Mapping[str, ParamValue]) -> str:
    """The thread message (for CARD_NOT_POSTED: the message to the requester) of one notice."""
    if notice is Notice.APPROVAL:
        user_id = str(params.get("user_id") or "?")
        count = params.get("count", len(request.approvals))
        required = params.get("required", request.required_approvals)
        if params.get("stage") is not None:
            return _stage_approval(user_id, params)
        return f"{mention(user_id)} approved ({count}/{required})."
    if notice is Notice.SUBMITTING:
        return f"Approved. Checking the plan against DDM once more, then submitting the restore of {request.id}…"
    if notice is Notice.SUBMITTED:
        region = params.get("region")
        where = f" ({escape(region, 64)})" if region else ""
        return f"Restore job {_job(request)} submitted to DDM{where}."
    if notice is Notice.OUTCOME_UNKNOWN:
        return (
            "⚠️ The restore request was sent but DDM's answer did not arrive, so it may or may not be running. "
            "I will not send it again; I am looking for its job in DDM's job list instead."
        )
    if notice is Notice.RECONCILED:
        return f"Found it: restore job {_job(request)} is in DDM's job list. Following it."
    if notice is Notice.FOLLOW_TROUBLE:
        what = f"job {_job(request)}" if request.job_id else "DDM's job list"
        problem = escape(params.get("problem") or "no answer", DDM_TEXT_LIMIT)
        return (
            f"⚠️ I can't read {what} from DDM right now ({problem}). I keep trying every few minutes; meanwhile "
            f"check {_instance(request.plan, request.plan.target)} in the DDM console. The target stays reserved for "
            f"{request.id}."
        )
    if notice is Notice.PROGRESS:
        elapsed = params.get("elapsed_s")
        after = f" after {duration_text(timedelta(seconds=elapsed))}" if isinstance(elapsed, int) and elapsed else ""
        return f"⏳ Restore job {_job(request)} is {params.get('percent')}% done{after}."
    if notice is Notice.JOB_DONE:
        return _with_figures(
            request, _completed(request) + " Verifying it now: DDM's view of the target, then its checks."
        )
    if notice is Notice.VERIFY_TROUBLE:
        problem = escape(params.get("problem") or "no answer", DDM_TEXT_LIMIT)
        until = params.get("until_ms")
        when = _when(until) if isinstance(until, int) else "its time limit"
        return (
            f"⚠️ I can't verify {_instance(request.plan, request.plan.target)} yet: {problem}. I keep trying until "
            f"{when}; the result follows here."
        )
    if notice is Notice.FINAL:
        return final_text(request, params)
    if notice is Notice.TARGET_ADDRESS:
        return address_text(request, params)
    if notice is Notice.REVIEW_DUE:
        due = params.get("due_ms")
        when = _when(int(due)) if isinstance(due, int) else "soon"
        who = request.review.mentions if request.review else ""
        return f"Follow-up review due by {when}: {who} — look at what this urgent restore did, then press Reviewed."
    if notice is Notice.REVIEW_REMINDER:
        who = request.review.mentions if request.review else ""
        return (
            f"⏰ The follow-up review of urgent restore {request.id} is overdue: {who}, please review it and press "
            "Reviewed."
        )
    if notice in (Notice.REMINDER, Notice.ESCALATION, Notice.NUDGE):
        return reminder_text(request, notice, params)
    if notice is Notice.REVIEWED:
        return f"{mention(str(params.get('user_id') or '?'))} reviewed this urgent restore."
    if notice is Notice.CARD_NOT_POSTED:
        # The reason is ours (bot.slack.notifier: "Invite me to <#C…> first…"), its markup intended.
        reason = str(params.get("reason") or "Slack refused it.")
        return f"Your restore request {request.id} was not created: I could not post the request card: {reason}"
    raise ValueError(f"{notice.value} is not a thread message (the card is drawn by bot.slack.blocks.card)")


def reminder_people(params: Mapping[str, ParamValue]) -> tuple[list[str], list[str]]:
    """The users and the user groups a reminder or an escalation mentions and DMs (ids we wrote)."""
    users = [u for u in str(params.get("users") or "").split(",") if u]
    groups = [g for g in str(params.get("groups") or "").split(",") if g]
    return users, groups


def reminder_text(request: RestoreRequest, notice: Notice, params: Mapping[str, ParamValue]) -> str:
    """ "⏰ R-… has waited 16 min on stage 1 (DBA lead): @dba, please approve or reject." — or the escalation:
    "🚨 … escalated to @oncall, who may now approve stage 1 too." Stage names come from the configuration file."""
    users, groups = reminder_people(params)
    who = ", ".join([mention(u) for u in users] + [f"<!subteam^{g}>" for g in groups]) or "nobody"
    name = escape(str(params.get("stage_name") or ""), 80)
    stage = f"stage {params.get('stage')}" + (f" ({name})" if name else "")
    waited = f"{params.get('waited_min') or 0} min"
    if notice is Notice.NUDGE:
        who_nudged = mention(str(params.get("user_id") or "?"))
        return (
            f"👋 {who_nudged} nudges: {request.id} has waited {waited} on {stage}: {who}, please approve or reject it."
        )
    if notice is Notice.ESCALATION:
        return f"🚨 {request.id} has waited {waited} on {stage}: escalated to {who}, who may now approve it too."
    return f"⏰ {request.id} has waited {waited} on {stage}: {who}, please approve or reject it."


def _stage_approval(user_id: str, params: Mapping[str, ParamValue]) -> str:
    """ "@bob approved stage 1 (DBA lead). Next: @owner (Service owner)." — the next stage's approvers are
    mentioned (our own mrkdwn) when their turn comes; stage names come from the configuration file."""
    name = escape(str(params.get("stage_name") or ""), 80)
    text = f"{mention(user_id)} approved stage {params.get('stage')}" + (f" ({name})" if name else "")
    if params.get("stage_required", 1) != 1:
        text += f" ({params.get('stage_count')}/{params.get('stage_required')})"
    text += "."
    if params.get("stage_done") and params.get("next_approvers"):
        following = escape(str(params.get("next_stage_name") or ""), 80)
        text += f" Next: {params.get('next_approvers')}" + (f" ({following})." if following else ".")
    return text


def _when(epoch_ms: int) -> str:
    return slack_date(epoch_ms // 1000, "{date_short_pretty} {time}", utc_text(epoch_ms))


def review_blocks(request: RestoreRequest, text: str) -> list[dict[str, object]]:
    """The follow-up review's thread message: its text and a [Reviewed] button."""
    blocks = [
        SectionBlock(block_id="review_text", text=MarkdownTextObject(text=text)),
        ActionsBlock(
            block_id="review_actions",
            elements=[ButtonElement(text="Reviewed", action_id=REVIEW_ACTION, value=request.id, style="primary")],
        ),
    ]
    return [block.to_dict() for block in blocks]


def final_text(request: RestoreRequest, params: Mapping[str, ParamValue] | None = None) -> str:
    """How a request in a final state ended, from what the request records (a verification: its `params`)."""
    state = request.state
    if state in (RequestState.VERIFIED, RequestState.VERIFY_FAILED):
        verdict = verdict_text(request, params or {})
        return f"{verdict}\n{drill_report(request)}" if request.plan.drill else verdict
    if state is RequestState.REJECTED:
        reason = f': "{escape(request.decision_note, 500)}"' if request.decision_note else ""
        return f"{mention(request.decided_by or '?')} rejected {request.id}{reason}. Nothing was restored."
    if state is RequestState.CANCELLED:
        who = mention(request.decided_by or request.requester_id)
        return f"{who} cancelled {request.id}. Nothing was restored."
    if state is RequestState.EXPIRED:
        return (
            f"{request.id} expired without the required approvals ({len(request.approvals)}/"
            f"{request.required_approvals}). Nothing was restored; make a new request if it is still needed."
        )
    if request.job_id:
        return _finished(request)
    code = request.error_code
    error = _sentence(request.error_msg)
    if code in ("PLAN_STALE", "PLAN_CHANGED", "APPROVAL_STALE"):
        return (
            f"🔴 Not submitted: {error or 'the plan is no longer possible'}. Nothing was restored. "
            "Make a new request with `/ddm-restore` (it will show what is possible now)."
        )
    if code in ("NOT_SENT", "INVALID_INPUT"):
        return (
            f"🔴 DDM could not be reached, so the restore was not sent: {error}. Nothing was restored; "
            "make a new request once DDM is reachable."
        )
    if code == "NO_JOB":
        return (
            "🔴 No restore job for this target appeared in DDM's job list, so the restore most likely did not "
            f"start. Check the target instance in the console before making a new request. {error}".strip()
        )
    return f"🔴 DDM refused the restore: `{escape(code or '', 100)}` {error}. Nothing was restored. {next_step(code)}"


def _people(request: RestoreRequest) -> str:
    """The requester and the approvers, mentioned."""
    return " ".join(mention(uid) for uid in dict.fromkeys([request.requester_id, *request.approver_ids]))


def _took(request: RestoreRequest) -> str:
    job = figures_of(request).job
    return f" in {duration_text(job)}" if job is not None else ""


def _with_figures(request: RestoreRequest, text: str) -> str:
    figures = figures_of(request)
    return f"{text}\n{figures_text(figures)}" if figures.known else text


def _completed(request: RestoreRequest) -> str:
    plan = request.plan
    return (
        f"✅ Restore completed{_took(request)}. {_people(request)} — {_instance(plan, plan.target)} now holds "
        f"{_instance(plan, plan.source)} as of {utc_text(plan.restore_time_ms)}."
    )


def drill_report(request: RestoreRequest) -> str:
    """The end of a drill's thread: how long the restore took, how old its restore point was, and its verdict."""
    figures = figures_of(request)
    took = duration_text(figures.time_to_restore) if figures.time_to_restore is not None else "unknown"
    lag = duration_text(figures.restore_point_lag) if figures.restore_point_lag is not None else "unknown"
    verdict = "passed ✅" if request.state is RequestState.VERIFIED else "failed ⚠️"
    return (
        f"🧪 *Drill report* — {escape(request.plan.drill, 60)}: time to restore {took} · restore-point lag {lag} · "
        f"verification {verdict}"
    )


def verdict_text(request: RestoreRequest, params: Mapping[str, ParamValue]) -> str:
    """The verification's end: `✅ Verified: orders-restore-1 is RUNNING at 10.0.0.5:5066 · 2/2 data nodes as
    planned · 1/1 checks passed`, or `⚠️ Verification failed: <what>` with the requester and approvers."""
    if request.state is RequestState.VERIFY_FAILED:
        problems = escape(str(params.get("problems") or clause(request.error_msg) or "no reason"), DDM_TEXT_LIMIT * 3)
        return f"⚠️ Verification failed: {problems}. {_people(request)}"
    address = params.get("address")
    at = f" at {escape(str(address), 100)}" if address else ""
    parts = [f"{_label(request.plan.target.label)} is {escape(str(params.get('status') or 'RUNNING'), 40)}{at}"]
    if params.get("nodes") is not None:
        parts.append(f"{params.get('nodes_as_planned')}/{params.get('nodes')} data nodes as planned")
    checks = params.get("checks")
    parts.append(f"{params.get('checks_passed')}/{checks} checks passed" if checks else "no SQL checks set up")
    return "✅ Verified: " + " · ".join(parts)


def address_text(request: RestoreRequest, params: Mapping[str, ParamValue]) -> str:
    """The DM to the requester at the verification's end: where to connect."""
    target = _instance(request.plan, request.plan.target)
    address = params.get("address")
    where = f"connect at `{escape(str(address), 100)}` (MySQL protocol)" if address else "DDM shows no address for it"
    if request.state is RequestState.VERIFIED:
        return f"{request.id}: {target} is restored and verified; {where}."
    return f"{request.id}: {target} is restored but its verification failed (see the thread); {where}."


def _finished(request: RestoreRequest) -> str:
    took, people = _took(request), _people(request)
    plan = request.plan
    if request.state is RequestState.COMPLETED:
        return _with_figures(request, _completed(request))
    reason = _sentence(request.error_msg) or "DDM gave no reason"
    return _with_figures(
        request,
        f"🔴 Restore job {_job(request)} failed{took}: {reason}. {people} — {_instance(plan, plan.target)} may "
        "hold partial data; check it in the console before using it or restoring onto it again.",
    )


def figures_text(figures: Figures) -> str:
    """`⏱ Time to restore 15m02s · request → approval 5m10s · approval → job start 8s · job 9m44s · restore point
    lag 2h03m00s`: the figures known (bot.restore.figures; the README defines each)."""
    parts = [
        (label, value)
        for label, value in (
            ("Time to restore", figures.time_to_restore),
            ("request → approval", figures.to_approval),
            ("approval → job start", figures.to_job_start),
            ("job", figures.job),
            ("restore point lag", figures.restore_point_lag),
        )
        if value is not None
    ]
    text = " · ".join(f"{label} {duration_text(value)}" for label, value in parts)
    return f"⏱ {text[:1].upper()}{text[1:]}" if text else ""


_NEXT_STEPS = {
    "DBS.280001": "DDM found a parameter wrong: check the restore point is inside the window and the mapping is "
    "complete, then make a new request.",
    "DBS.300372": "The target DDM instance can't take this restore (it must be new, with no data nodes, schemas "
    "or accounts, and not busy). Pick another target in a new request.",
    "DBS.300323": "A target data node is unavailable: check its state in the RDS console or pick another.",
    "DBS.300356": "DDM could not connect to a data node: check the RDS instances are running and reachable.",
    "DBS.300364": "A target data node has too little storage: pick one at least as large as its source.",
    "APIGW.0301": "The bot's Huawei Cloud credentials were refused: ask an admin to check them (`ddm-restore-bot "
    "check`).",
    "APIGW.0308": "DDM is throttling calls: wait a minute, then make a new request.",
}


def next_step(error_code: str | None) -> str:
    if error_code and error_code in _NEXT_STEPS:
        return _NEXT_STEPS[error_code]
    return "Check the DDM console for details, fix the cause, then make a new request."


# ---- `/ddm-restore list` and `status` (ephemeral) -------------------------------------------------------------


def list_line(request: RestoreRequest) -> str:
    plan = request.plan
    return (
        f"`{request.id}` {_label(plan.source.label)} → {_label(plan.target.label)} · {status_line(request)} · by "
        f"{mention(request.requester_id)}"
    )


def status_text(request: RestoreRequest) -> str:
    plan = request.plan
    ids = plan.short_ids()
    lines = [
        list_line(request),
        f"Restore point {iso_utc(plan.restore_time_ms)} ({plan.restore_time_ms} ms)",
        "Data nodes: " + ", ".join(node_pair(m, ids) for m in plan.mappings[:50]),
        f"Fingerprint `{request.fingerprint}`",
    ]
    if request.flow is not None:  # as frozen when it was made, whatever the configuration says now
        lines.append(f"Approval flow: {request.flow.describe(lambda name: escape(name, 100))}")
    if request.job_id:
        lines.append(f"DDM job {_job(request)}")
    if request.error_code:
        lines.append(f"Error `{escape(request.error_code, 100)}`: {escape(request.error_msg or '', DDM_TEXT_LIMIT)}")
    if (figures := figures_of(request)).known:
        lines.append(figures_text(figures))
    return "\n".join(lines)


# ---- `/ddm-restore stats` (ephemeral) ---------------------------------------------------------------------------


def stats_text(stats: Sequence[EnvironmentStats], *, days: int, label: Callable[[str], str]) -> str:
    """The figures of the restores finished in the last `days` days, one line per environment (`label` names an
    environment for people, from its name in the plans)."""
    window = f"the last {days} days" if days != 1 else "the last day"
    if not stats:
        return f"No restores finished in {window}."
    lines = [f"*Restores finished in {window}* (figures over the completed ones; the README defines them)"]
    for each in stats:
        counts = f"{each.completed} completed, {each.failed} failed"
        line = f"• *{escape(label(each.environment), 100)}*: {counts}"
        if each.time_to_restore_p50 is not None and each.time_to_restore_p90 is not None:
            line += (
                f" · time to restore p50 {duration_text(each.time_to_restore_p50)},"
                f" p90 {duration_text(each.time_to_restore_p90)}"
            )
            medians = [
                f"{name} {duration_text(value)}"
                for name, value in (
                    ("request → approval", each.to_approval_p50),
                    ("approval → job start", each.to_job_start_p50),
                    ("job", each.job_p50),
                    ("restore point lag", each.restore_point_lag_p50),
                )
                if value is not None
            ]
            if medians:
                line += " · p50 " + ", ".join(medians)
        else:
            line += " · no completed restore to measure"
        lines.append(line)
    return "\n".join(lines)


def _sentence(text: str | None) -> str:
    """DDM's message, escaped, without its final full stop (ours follows it)."""
    return escape(clause(text), DDM_TEXT_LIMIT)


def _label(text: str) -> str:
    return escape(text, 200)


def _instance(plan: RestorePlan, ref: NamedRef) -> str:
    """`orders-restore-1 `2f0324a9…in09``: the name, and the id as the card shows it."""
    return f"{_label(ref.label)} `{escape(plan.short_ids()[ref.id])}`"


def _job(request: RestoreRequest) -> str:
    return f"`{escape(request.job_id or '?', 100)}`"
