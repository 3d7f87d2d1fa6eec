"""`/ddm-restore drills` and the answer to `/ddm-restore drill run`: our own mrkdwn, names from the environments
file and DDM escaped."""

from __future__ import annotations

from collections.abc import Sequence

from bot.restore.drills import DrillStatus
from bot.restore.timeparse import epoch_ms_of, utc_text
from bot.slack.blocks.escaping import escape
from bot.workflow.drills import DrillNotStarted, DrillResult


def drills_text(statuses: Sequence[DrillStatus], *, where: str) -> str:
    if not statuses:
        return f"No drills are set up for {where} (`[[environment.drill]]` in the environments file)."
    return "\n".join([f"*Drills of {where}*", *(drill_line(status) for status in statuses)])


def drill_line(status: DrillStatus) -> str:
    """One drill in words: its schedule, approval, next run, last result and targets left (also on App Home)."""
    drill = status.drill
    zone = f" ({escape(drill.cron.zone, 40)})" if drill.cron.zone != "UTC" else ""
    upcoming = utc_text(epoch_ms_of(status.next_run), millis=False) if status.next_run else "never"
    left = "unknown (DDM not asked yet)" if status.targets_left is None else str(status.targets_left)
    return (
        f"• 🧪 *{escape(drill.name, 60)}* — `{escape(drill.schedule, 60)}`{zone} · approval {drill.approval} · "
        f"next run {upcoming} · last: {escape(status.last, 200)} · targets left {left} of {len(drill.targets)}"
    )


def drill_started_text(name: str, result: DrillResult) -> str:
    if isinstance(result, DrillNotStarted):
        return f"🧪 Drill *{escape(name, 60)}* did not start: {escape(result.message, 600)}"
    request = result.request
    how = "approved by the environments file" if request.approved_at is not None else "awaiting approval"
    return f"🧪 Drill *{escape(name, 60)}* started: `{request.id}`, {how}. Its card is in this channel."
