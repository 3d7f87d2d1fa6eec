"""RestoreRequest and its state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.restore.plan import RestorePlan


class RequestState(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    SUBMITTING = "SUBMITTING"
    RUNNING = "RUNNING"
    UNKNOWN = "UNKNOWN"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


S = RequestState
TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    S.PENDING: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    # APPROVED -> FAILED: the live re-validation before submitting found the plan no longer possible.
    S.APPROVED: frozenset({S.SUBMITTING, S.FAILED}),
    S.SUBMITTING: frozenset({S.RUNNING, S.FAILED, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
FINAL_STATES = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
# States in which a request holds its target instance: at most one such request per target.
ACTIVE_STATES = frozenset(RequestState) - FINAL_STATES


class InvalidTransition(ValueError):
    pass


def check_transition(current: RequestState, new: RequestState) -> None:
    if new not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current.value} request cannot become {new.value}")


@dataclass(frozen=True)
class Approval:
    user_id: str
    at: datetime


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
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def approver_ids(self) -> tuple[str, ...]:
        return tuple(a.user_id for a in self.approvals)

    @property
    def fingerprint_matches_plan(self) -> bool:
        return self.plan.fingerprint() == self.fingerprint
