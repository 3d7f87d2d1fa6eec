"""What replicas share through the store beside the requests: the outbox, named leases, urgent reviews, drill
slots and App Home tabs (the sub-ports of bot.ports.store.RequestRepository)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.restore.drills import SlotRecord
from bot.restore.notices import Notice, ParamValue
from bot.restore.reminders import Due, ReminderRule
from bot.restore.request import RestoreRequest


@dataclass(frozen=True)
class OutboxRow:
    """One notice waiting in the outbox."""

    seq: int
    request_id: str
    notice: Notice
    params: dict[str, ParamValue]
    created_ms: int
    attempts: int  # claims so far, this one included: above 1, an earlier try may have reached Slack


class RequestOutbox(Protocol):
    """What people must hear, as rows written with the change they tell of; delivered by whoever claims them.

    A request's rows are claimed together, only when all are due and none is held by another owner, so each
    request's notices go out in order; a claim is a lease that another owner may take once it runs out."""

    async def claim(self, owner: str, *, now: datetime, lease_seconds: float, requests: int = 20) -> list[OutboxRow]:
        """The pending rows of up to `requests` claimable requests, now held by `owner`: by request, in order."""
        ...

    async def done(self, seqs: Sequence[int], *, now: datetime) -> None: ...
    async def retry_later(self, request_id: str, owner: str, *, due: datetime, error: str) -> None:
        """Give back this owner's rows of a request, none to be tried before `due`."""
        ...

    async def renew(self, request_id: str, owner: str, *, now: datetime, lease_seconds: float) -> bool:
        """Extend this owner's claim on a request's rows; False when it was lost to another owner."""
        ...

    async def release(self, owner: str) -> None:
        """Give back everything this owner holds."""
        ...

    async def depth(self) -> tuple[int, int | None]:
        """How many notices wait, and since when (epoch ms of the oldest)."""
        ...

    async def pending(self, request_id: str) -> list[OutboxRow]: ...


class NamedLeases(Protocol):
    """One holder at a time of a name among the replicas, until it stops renewing."""

    async def take(self, name: str, *, owner: str, now: datetime, seconds: float) -> bool:
        """Hold (or renew) `name` until now+seconds, unless someone else holds it still."""
        ...

    async def release(self, name: str, *, owner: str) -> None: ...
    async def holder(self, name: str, *, now: datetime) -> str | None: ...


class UrgentReviews(Protocol):
    """The follow-up review of urgent requests: due when the request ends, reminded once, marked reviewed."""

    async def overdue(self, now: datetime) -> list[str]:
        """Requests whose review is overdue and not yet reminded."""
        ...

    async def remind(self, request_id: str, *, now: datetime) -> RestoreRequest | None:
        """Record the one reminder (None when it was reviewed or reminded meanwhile)."""
        ...

    async def mark_reviewed(self, request_id: str, *, user_id: str, now: datetime) -> RestoreRequest | None:
        """Record the review (None when it was not due, or already reviewed)."""
        ...


class StageReminders(Protocol):
    """What moves a waiting request's current stage along: reminders, the escalation, the requester's nudges; each
    with its notice and audit record, once across replicas (a conditional update under the request's lock)."""

    async def remind(
        self,
        request_id: str,
        due: Due,
        *,
        rule: ReminderRule,
        params: Mapping[str, ParamValue],
        now: datetime,
    ) -> RestoreRequest | None:
        """Record a reminder or the escalation of the request's current stage with its notice, exactly once across
        replicas; None when it is not to be sent (the stage moved on, the request ended, it was sent already)."""
        ...

    async def nudge(
        self,
        request_id: str,
        *,
        user_id: str,
        cooldown: timedelta,
        params: Mapping[str, ParamValue],
        now: datetime,
    ) -> RestoreRequest | None:
        """Record the requester's nudge of the current stage with its notice; None when it is not theirs, not
        pending, or their last nudge is younger than `cooldown` (once across replicas)."""
        ...


class SlotTaken(Exception):
    """A drill's slot was claimed already (by another replica, or before a restart): nothing was made."""


class DrillSlots(Protocol):
    """A row per drill and slot (bot.restore.drills); a request's slot is claimed by RequestRepository.create."""

    async def record(
        self,
        drill: str,
        slot: datetime,
        outcome: str,
        *,
        now: datetime,
        detail: str = "",
        targets_left: int | None = None,
    ) -> bool:
        """Claim `slot` with an outcome and no request (missed, no target, failed); False when it was claimed."""
        ...

    async def latest(self, drill: str) -> SlotRecord | None:
        """The drill's newest claimed slot."""
        ...

    async def recent(self, drill: str, limit: int) -> list[SlotRecord]:
        """The drill's newest claimed slots, newest first."""
        ...


@dataclass(frozen=True)
class StaleHome:
    """Someone's App Home to publish again: `version` counts the changes marked on it so far."""

    user_id: str
    version: int
    attempts: int  # claims so far, this one included


class HomeTabs(Protocol):
    """Who has opened the App Home, and whose Home is stale: one row per person however many changes, published
    by whichever replica claims it (a lease, taken over when it runs out)."""

    async def opened(self, user_id: str, *, now: datetime) -> None: ...
    async def viewers(self) -> list[str]: ...
    async def mark_stale(self, user_ids: Collection[str], *, now: datetime) -> None:
        """Each of them who has opened the Home is stale (again: a change during a publish is not lost)."""
        ...

    async def claim(self, owner: str, *, now: datetime, lease_seconds: float, limit: int = 1) -> list[StaleHome]: ...
    async def published(self, home: StaleHome, owner: str, *, now: datetime) -> None:
        """Published as of `home.version`: no longer stale unless marked since."""
        ...

    async def retry_later(self, user_id: str, owner: str, *, due: datetime, error: str) -> None: ...
    async def release(self, owner: str) -> None: ...
    async def forget(self, user_id: str) -> None:
        """No Home to keep for them any more (Slack no longer knows them); opening it again brings them back."""
        ...
