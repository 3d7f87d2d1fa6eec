"""What people must hear about a request. The store writes these as outbox rows in the same transaction as
the change they tell of; the Slack layer renders and delivers them (bot.slack.announcer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

ParamValue = str | int | None


class Notice(StrEnum):
    CARD = "card"  # post the card, or redraw it from the request's latest state (coalesced)
    APPROVAL = "approval"  # thread: "@bob approved (1/2)"; params user_id, count, required
    SUBMITTING = "submitting"  # thread: approved, checking once more, then submitting
    SUBMITTED = "submitted"  # thread: the job id; params region
    OUTCOME_UNKNOWN = "outcome_unknown"  # thread: sent, answer lost, looking for the job
    RECONCILED = "reconciled"  # thread: the job was found
    FOLLOW_TROUBLE = "follow_trouble"  # thread: the job can't be read; params problem
    PROGRESS = "progress"  # thread: a running job reached a milestone (25/50/75 %); params percent, elapsed_s
    JOB_DONE = "job_done"  # thread: the restore job completed; the target is being verified
    VERIFY_TROUBLE = "verify_trouble"  # thread: the verification can't finish yet; params problem, until_ms
    FINAL = "final"  # thread: how it ended, from the request's final state (a verification's: its params)
    TARGET_ADDRESS = "target_address"  # DM to the requester: the verified target's address; params address
    CARD_NOT_POSTED = "card_not_posted"  # to the requester: the card could not be posted; params reason
    REVIEW_DUE = "review_due"  # thread: an urgent request ended; its follow-up review, with a Reviewed button
    REVIEW_REMINDER = "review_reminder"  # thread and DMs to the reviewers: the review is overdue
    REVIEWED = "reviewed"  # thread: who reviewed it; params user_id
    # Thread mention and DMs: the current stage still waits (bot.restore.reminders); params stage, number,
    # stage_name, waited_min, users, groups (whom it mentions and DMs, comma-separated ids)
    REMINDER = "reminder"
    ESCALATION = "escalation"  # the same, to escalate_to, who may now approve the stage too
    NUDGE = "nudge"  # the requester's [Nudge]: the reminder's params, and user_id


@dataclass(frozen=True)
class Outgoing:
    """One notice about one request, with the facts of the moment it was written."""

    notice: Notice
    params: Mapping[str, ParamValue] = field(default_factory=dict)
