"""The sentences people read in the card's thread. Pure functions of the request."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.restore.request import RestoreRequest
from bot.restore.timeparse import utc_text


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def duration_text(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def approved(request: RestoreRequest, user_id: str) -> str:
    return f"{mention(user_id)} approved ({len(request.approvals)}/{request.required_approvals})."


def _plain(text: str) -> str:
    """People's free text inside mrkdwn: no mentions or links."""
    return " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rejected(request: RestoreRequest) -> str:
    reason = f': "{_plain(request.decision_note)}"' if request.decision_note else ""
    return f"{mention(request.decided_by or '?')} rejected {request.id}{reason}. Nothing was restored."


def cancelled(request: RestoreRequest) -> str:
    return f"{mention(request.decided_by or request.requester_id)} cancelled {request.id}. Nothing was restored."


def expired(request: RestoreRequest) -> str:
    return (
        f"{request.id} expired without the required approvals ({len(request.approvals)}/"
        f"{request.required_approvals}). Nothing was restored; make a new request if it is still needed."
    )


def submitting(request: RestoreRequest) -> str:
    return f"Approved. Checking the plan against DDM once more, then submitting the restore of {request.id}…"


def submitted(request: RestoreRequest, region: str | None) -> str:
    where = f" ({region})" if region else ""
    return f"Restore job `{request.job_id}` submitted to DDM{where}."


def plan_stale(request: RestoreRequest, problem: str) -> str:
    return (
        f"🔴 Not submitted: {problem} Nothing was restored. "
        "Make a new request with `/ddm-restore` (it will show what is possible now)."
    )


def submit_failed(request: RestoreRequest) -> str:
    return (
        f"🔴 DDM refused the restore: `{request.error_code}` {request.error_msg}. Nothing was restored. "
        f"{next_step(request.error_code)}"
    )


def not_sent(request: RestoreRequest) -> str:
    return (
        f"🔴 DDM could not be reached, so the restore was not sent: {request.error_msg}. Nothing was restored; "
        "make a new request once DDM is reachable."
    )


def outcome_unknown(request: RestoreRequest) -> str:
    return (
        "⚠️ The restore request was sent but DDM's answer did not arrive, so it may or may not be running. "
        "I will not send it again; I am looking for its job in DDM's job list instead."
    )


def follow_trouble(request: RestoreRequest, problem: str) -> str:
    what = f"job `{request.job_id}`" if request.job_id else "DDM's job list"
    return (
        f"⚠️ I can't read {what} from DDM right now ({problem}). I keep trying every few minutes; meanwhile check "
        f"{request.plan.target.label} in the DDM console. The target stays reserved for {request.id}."
    )


def reconciled(request: RestoreRequest) -> str:
    return f"Found it: restore job `{request.job_id}` is in DDM's job list. Following it."


def reconcile_gave_up(request: RestoreRequest) -> str:
    return (
        "🔴 No restore job for this target appeared in DDM's job list, so the restore most likely did not start. "
        f"Check the target instance in the console before making a new request. {request.error_msg or ''}".strip()
    )


def finished(request: RestoreRequest, started: datetime | None, ended: datetime | None) -> str:
    people = " ".join(mention(uid) for uid in dict.fromkeys([request.requester_id, *request.approver_ids]))
    took = f" in {duration_text(ended - started)}" if started and ended else ""
    plan = request.plan
    if request.state.value == "COMPLETED":
        return (
            f"✅ Restore completed{took}. {people} — {plan.target.label} now holds {plan.source.label} "
            f"as of {utc_text(plan.restore_time_ms)}."
        )
    reason = request.error_msg or "DDM gave no reason"
    return (
        f"🔴 Restore job `{request.job_id}` failed{took}: {reason}. {people} — {plan.target.label} may hold "
        "partial data; check it in the console before using it or restoring onto it again."
    )


def final_text(request: RestoreRequest) -> str:
    """The final thread message of a request in a final state, from what the request records."""
    state = request.state.value
    if state == "REJECTED":
        return rejected(request)
    if state == "CANCELLED":
        return cancelled(request)
    if state == "EXPIRED":
        return expired(request)
    if request.job_id:
        return finished(request, request.submitted_at, request.finished_at)
    code = request.error_code
    if code in ("PLAN_STALE", "PLAN_CHANGED", "APPROVAL_STALE"):
        return plan_stale(request, request.error_msg or "the plan is no longer possible.")
    if code in ("NOT_SENT", "INVALID_INPUT"):
        return not_sent(request)
    if code == "NO_JOB":
        return reconcile_gave_up(request)
    return submit_failed(request)


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
