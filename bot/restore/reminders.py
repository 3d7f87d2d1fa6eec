"""Never waiting in silence: when a pending request's current stage is reminded of, and escalated. No I/O.

The schedule is pure: given the stage's start, the environment's reminder rule, what was already sent for the
stage (stored with the request, `Sent`) and now, it says which reminder or escalation is due, numbered, so that
each has one key and the store writes it once (bot.store.changes). A stage starts when the request is made (the
first) or when the approval completing the stage before it was given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.restore.approval import Approval
from bot.restore.stages import StageRule


class Kind(StrEnum):
    REMINDER = "reminder"  # the stage's approvers are mentioned in the thread and DMed
    ESCALATION = "escalation"  # escalate_to is mentioned, DMed, and may approve the stage from then on


@dataclass(frozen=True)
class ReminderRule:
    """An environment's `[environment.reminders]`."""

    remind_after: timedelta
    repeat_every: timedelta | None = None  # None: one reminder per stage
    escalate_after: timedelta | None = None  # None: never escalated
    escalate_user_ids: frozenset[str] = frozenset()
    escalate_group_ids: frozenset[str] = frozenset()
    nudge_cooldown: timedelta = timedelta(minutes=15)

    def reminder_number(self, waited: timedelta) -> int:
        """How many reminders are due after waiting `waited` on a stage (one per period, from remind_after)."""
        if waited < self.remind_after:
            return 0
        if self.repeat_every is None or self.repeat_every <= timedelta(0):
            return 1
        return 1 + int((waited - self.remind_after) / self.repeat_every)

    def next_after(self, waited: timedelta) -> timedelta:
        """How long from `waited` until the next reminder or escalation falls due (for the sweeper's pace)."""
        moments = [self.remind_after]
        if self.repeat_every is not None and self.repeat_every > timedelta(0) and waited >= self.remind_after:
            moments.append(self.remind_after + self.repeat_every * self.reminder_number(waited))
        if self.escalate_after is not None:
            moments.append(self.escalate_after)
        later = [moment - waited for moment in moments if moment > waited]
        return min(later, default=timedelta(0))


@dataclass(frozen=True)
class Sent:
    """What was sent for a request's current stage (stored with the request): a new stage starts afresh."""

    stage: int
    reminders: int = 0
    escalated_user_ids: frozenset[str] | None = None  # None: not escalated; else who may approve the stage too
    escalated_group_ids: frozenset[str] = frozenset()

    @property
    def escalated(self) -> bool:
        return self.escalated_user_ids is not None

    def to_json(self) -> str:
        data: dict[str, object] = {"stage": self.stage, "reminders": self.reminders}
        if self.escalated_user_ids is not None:
            data["escalated"] = {
                "users": sorted(self.escalated_user_ids),
                "groups": sorted(self.escalated_group_ids),
            }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> Sent | None:
        if not raw:
            return None
        data = json.loads(raw)
        escalated = data.get("escalated")
        return cls(
            stage=int(data["stage"]),
            reminders=int(data.get("reminders") or 0),
            escalated_user_ids=frozenset(escalated.get("users") or ()) if escalated is not None else None,
            escalated_group_ids=frozenset(escalated.get("groups") or ()) if escalated is not None else frozenset(),
        )

    def for_stage(self, stage: int) -> Sent:
        """What was sent for `stage`: nothing, when this record is an earlier stage's."""
        return self if self.stage == stage else Sent(stage)


@dataclass(frozen=True)
class Due:
    """One reminder or escalation that is due: reminder `number` of `stage`, or its escalation."""

    stage: int
    kind: Kind
    number: int = 1

    @property
    def key(self) -> str:
        return f"{self.kind.value} {self.number} of stage {self.stage}"

    def after(self, sent: Sent, rule: ReminderRule) -> Sent:
        """What is stored once this is sent."""
        base = sent.for_stage(self.stage)
        if self.kind is Kind.ESCALATION:
            return Sent(self.stage, base.reminders, rule.escalate_user_ids, rule.escalate_group_ids)
        return Sent(self.stage, self.number, base.escalated_user_ids, base.escalated_group_ids)

    def sendable(self, sent: Sent | None) -> bool:
        """Not already sent for its stage (the store's check, under the request's lock)."""
        mine = (sent or Sent(self.stage)).for_stage(self.stage)
        if self.kind is Kind.ESCALATION:
            return not mine.escalated
        return self.number > mine.reminders


def stage_started(rule: StageRule, approvals: Sequence[Approval], created_at: datetime) -> tuple[int, datetime] | None:
    """The current stage and when it started; None when every stage is complete."""
    current = rule.current(approvals)
    if current is None:
        return None
    if current == 1:
        return 1, created_at
    before = [a.at for a in approvals if a.stage == current - 1]
    return current, max(before, default=created_at)


def due(rule: ReminderRule, stage: int, started: datetime, sent: Sent | None, now: datetime) -> Due | None:
    """The reminder or escalation of `stage` due at `now` that was not sent yet (the escalation first); a
    sweeper that slept through several periods sends the latest reminder only: one per period at most."""
    waited = now - started
    mine = (sent or Sent(stage)).for_stage(stage)
    if rule.escalate_after is not None and waited >= rule.escalate_after and not mine.escalated:
        return Due(stage, Kind.ESCALATION)
    number = rule.reminder_number(waited)
    if number > mine.reminders:
        return Due(stage, Kind.REMINDER, number)
    return None
