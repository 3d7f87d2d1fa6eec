"""RestoreRequest: a plan, who asked, where it stands. Its lifecycle is the table in bot.restore.lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.restore.approval import Approval
from bot.restore.flow import Flow
from bot.restore.lifecycle import ACTIVE_STATES, FINAL_STATES, RequestState
from bot.restore.plan import RestorePlan
from bot.restore.reminders import Sent
from bot.restore.review import Review
from bot.restore.stages import StageRule

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "SYSTEM",
    "Approval",
    "RequestState",
    "RestoreRequest",
    "request_fingerprint",
]

# The actor of what the bot does on its own (expiry, the submit, following the job), in the audit trail.
SYSTEM = "system"


@dataclass(frozen=True)
class RestoreRequest:
    id: str
    plan: RestorePlan
    fingerprint: str
    requester_id: str
    channel_id: str
    state: RequestState
    required_approvals: int
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    message_ts: str | None = None
    approvals: tuple[Approval, ...] = ()
    job_id: str | None = None
    job_progress: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    decided_by: str | None = None  # who rejected or cancelled
    decision_note: str | None = None  # the reject reason
    approved_at: datetime | None = None  # the move to APPROVED (the last approval needed)
    submitted_at: datetime | None = None  # the move to SUBMITTING, right before the one POST
    job_started_at: datetime | None = None  # DDM accepted the job (bot.restore.figures says which clock)
    finished_at: datetime | None = None  # the job's end as DDM reports it, or when it failed before one
    review: Review | None = None  # urgent requests: the follow-up review
    # The approval flow frozen when it was made (bot.restore.flow); None: made before flows were frozen and never
    # pending since (its environment's stages stand in).
    flow: Flow | None = None
    # The reminders and the escalation sent for the current stage (bot.restore.reminders); None: none yet.
    reminders: Sent | None = None
    nudged_at: datetime | None = None  # the requester's last [Nudge]
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def approver_ids(self) -> tuple[str, ...]:
        return tuple(a.user_id for a in self.approvals)

    @property
    def escalated_to(self) -> tuple[frozenset[str], frozenset[str]] | None:
        """Who the current stage was escalated to (users, groups) and may approve it too; None: not escalated."""
        sent = self.reminders
        if sent is None or sent.escalated_user_ids is None:
            return None
        rule = self.flow.stage_rule if self.flow is not None else StageRule((self.required_approvals,))
        if rule.current(self.approvals) != sent.stage:
            return None
        return sent.escalated_user_ids, sent.escalated_group_ids

    def approvals_in(self, stage: int) -> tuple[Approval, ...]:
        return tuple(a for a in self.approvals if a.stage == stage)

    @property
    def fingerprint_matches_plan(self) -> bool:
        """Does the stored plan, with the flow frozen with it, still hash to what approvals bound to?"""
        return request_fingerprint(self.plan, self.flow) == self.fingerprint


def request_fingerprint(plan: RestorePlan, flow: Flow | None) -> str:
    """The fingerprint of a request: its plan's, covering its flow too (unless that was frozen afterwards)."""
    return plan.fingerprint(flow=flow.identity() if flow is not None and not flow.backfilled else None)
