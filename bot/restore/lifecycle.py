"""The request lifecycle as data: (state, event) -> state, and what people must hear about each move.

The store takes every move from this table (`RequestStore.transition(request_id, event)`) and refuses any
other; the audit action of a move is its event's name; the README's state diagram is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.restore.notices import Notice


class RequestState(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    SUBMITTING = "SUBMITTING"
    RUNNING = "RUNNING"
    UNKNOWN = "UNKNOWN"  # the POST may or may not have reached DDM
    COMPLETED = "COMPLETED"  # before verification existed: no move reaches it now (old requests keep it)
    VERIFYING = "VERIFYING"  # the job completed; the target is being verified (bot.restore.verification)
    VERIFIED = "VERIFIED"
    VERIFY_FAILED = "VERIFY_FAILED"  # the job completed but the target did not check out
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


S = RequestState


class Event(StrEnum):
    APPROVED = "approved"  # the last required approval arrived
    REJECT = "reject"
    CANCEL = "cancel"
    EXPIRE = "expire"
    CARD_NOT_POSTED = "card_not_posted"  # the card could not be posted: nobody can approve it
    REVALIDATION_FAILED = "revalidation_failed"  # the live check before the POST found the plan impossible
    SUBMIT = "submit"  # the exactly-once licence for the POST
    JOB_SUBMITTED = "job_submitted"  # DDM accepted the POST and named its job
    SUBMIT_FAILED = "submit_failed"  # DDM refused, or the POST was never sent
    OUTCOME_UNKNOWN = "outcome_unknown"  # the POST may or may not have reached DDM
    SUBMITTER_LOST = "submitter_lost"  # the replica that was POSTing vanished
    RECONCILED = "reconciled"  # the job of an UNKNOWN submission was found in DDM's job list
    RECONCILE_FAILED = "reconcile_failed"  # no job appeared in time
    PROGRESS = "progress"  # the running job reached a progress milestone (bot.restore.progress)
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    VERIFIED = "verified"  # the target is RUNNING, its data nodes as planned, every check passed
    VERIFY_FAILED = "verify_failed"  # it is not, or the verification could not finish within its bound


@dataclass(frozen=True)
class Move:
    to: RequestState
    notices: tuple[Notice, ...]


_FINAL = (Notice.CARD, Notice.FINAL)
# The verification's end: the thread hears the verdict, the requester gets the target's address by DM.
_VERIFIED = (Notice.CARD, Notice.FINAL, Notice.TARGET_ADDRESS)
_UNKNOWN = (Notice.CARD, Notice.OUTCOME_UNKNOWN)

LIFECYCLE: dict[tuple[RequestState, Event], Move] = {
    (S.PENDING, Event.APPROVED): Move(S.APPROVED, (Notice.CARD, Notice.SUBMITTING)),
    (S.PENDING, Event.REJECT): Move(S.REJECTED, _FINAL),
    (S.PENDING, Event.CANCEL): Move(S.CANCELLED, _FINAL),
    (S.PENDING, Event.EXPIRE): Move(S.EXPIRED, _FINAL),
    # No card exists to update: the requester hears it directly.
    (S.PENDING, Event.CARD_NOT_POSTED): Move(S.CANCELLED, (Notice.CARD_NOT_POSTED,)),
    (S.APPROVED, Event.REVALIDATION_FAILED): Move(S.FAILED, _FINAL),
    (S.APPROVED, Event.SUBMIT): Move(S.SUBMITTING, (Notice.CARD,)),
    (S.SUBMITTING, Event.JOB_SUBMITTED): Move(S.RUNNING, (Notice.SUBMITTED, Notice.CARD)),
    # A sweeper may have given up on a slow submitter that then got its answer: UNKNOWN takes it too.
    (S.UNKNOWN, Event.JOB_SUBMITTED): Move(S.RUNNING, (Notice.SUBMITTED, Notice.CARD)),
    (S.SUBMITTING, Event.SUBMIT_FAILED): Move(S.FAILED, _FINAL),
    (S.UNKNOWN, Event.SUBMIT_FAILED): Move(S.FAILED, _FINAL),
    (S.SUBMITTING, Event.OUTCOME_UNKNOWN): Move(S.UNKNOWN, _UNKNOWN),
    (S.SUBMITTING, Event.SUBMITTER_LOST): Move(S.UNKNOWN, _UNKNOWN),
    (S.UNKNOWN, Event.RECONCILED): Move(S.RUNNING, (Notice.RECONCILED, Notice.CARD)),
    (S.UNKNOWN, Event.RECONCILE_FAILED): Move(S.FAILED, _FINAL),
    # A move that stays: the milestone is told in the thread in the same transaction as the progress it is of.
    (S.RUNNING, Event.PROGRESS): Move(S.RUNNING, (Notice.CARD, Notice.PROGRESS)),
    # The job's end is told at once; the final word waits for the verification.
    (S.RUNNING, Event.JOB_COMPLETED): Move(S.VERIFYING, (Notice.CARD, Notice.JOB_DONE)),
    (S.RUNNING, Event.JOB_FAILED): Move(S.FAILED, _FINAL),
    (S.VERIFYING, Event.VERIFIED): Move(S.VERIFIED, _VERIFIED),
    (S.VERIFYING, Event.VERIFY_FAILED): Move(S.VERIFY_FAILED, _VERIFIED),
}


FINAL_STATES = frozenset(RequestState) - {state for state, _ in LIFECYCLE}


class ReviewEvent(StrEnum):
    """The follow-up review of an urgent request, beside its state (which stays final): due when the request
    ends, reminded once when overdue, reviewed. The audit action of each is its value."""

    DUE = "review_due"
    REMINDED = "review_reminder"
    REVIEWED = "reviewed"


# The states whose arrival makes an urgent request's review due, and what people hear about each review move.
REVIEW_AFTER = frozenset({RequestState.FAILED, RequestState.VERIFIED, RequestState.VERIFY_FAILED})
REVIEW_MOVES: dict[ReviewEvent, tuple[Notice, ...]] = {
    ReviewEvent.DUE: (Notice.REVIEW_DUE, Notice.CARD),
    ReviewEvent.REMINDED: (Notice.REVIEW_REMINDER,),
    ReviewEvent.REVIEWED: (Notice.REVIEWED, Notice.CARD),
}
# States in which a request holds its target instance: at most one such request per target.
ACTIVE_STATES = frozenset(RequestState) - FINAL_STATES


def mermaid_diagram() -> str:
    """The lifecycle as a Mermaid state diagram (the README's copy is checked against this)."""
    lines = ["stateDiagram-v2", "    [*] --> PENDING: create"]
    for (state, event), move in LIFECYCLE.items():
        lines.append(f"    {state.value} --> {move.to.value}: {event.value}")
    finals = sorted({move.to.value for move in LIFECYCLE.values()} - {s.value for s, _ in LIFECYCLE})
    lines.extend(f"    {state} --> [*]" for state in finals)
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid_diagram())
