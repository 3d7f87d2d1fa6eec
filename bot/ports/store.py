"""The request repository: restore requests, their approvals, audit chain and outbox (bot.store.sql_store.RequestStore
on SQL; bot.store.memory.MemoryStore in memory)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.errors import PersonError
from bot.ports.audit import AuditEntry
from bot.ports.shared_work import DrillSlots, HomeTabs, NamedLeases, RequestOutbox, StageReminders, UrgentReviews
from bot.restore.drills import SlotClaim
from bot.restore.flow import Flow
from bot.restore.lifecycle import Event
from bot.restore.notices import Outgoing, ParamValue
from bot.restore.plan import RestorePlan
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.review import Review


class ChangeObserver(Protocol):
    def __call__(self, change: str, request: RestoreRequest) -> None:
        """After a committed change of a request's state: `change` is "create" or the lifecycle event's value
        (bot.restore.lifecycle.Event), `request` the request as it now is. The change is done: whatever an
        observer does, it can't undo it (the store logs an observer's exception and goes on)."""
        ...


class TargetBusy(PersonError):
    """Another active request holds the plan's target instance (one active restore per target)."""

    def __init__(self, holder: RestoreRequest) -> None:
        super().__init__(f"{holder.plan.target.label} is busy with {holder.id} ({holder.state.value.lower()})")
        self.holder = holder


@dataclass(frozen=True)
class ApprovalOutcome:
    added: bool
    count: int
    request: RestoreRequest
    approved: bool = False  # this approval was the last one needed: the request is now APPROVED


@dataclass(frozen=True)
class RequestPage:
    """One page of requests, newest first, and how many there are on all the pages."""

    requests: list[RestoreRequest]
    total: int


class RequestRepository(Protocol):
    """Restore requests, their approvals, audit chain and outbox: the workflow's one store.

    The contract (tests/integration/contract): every change of state is a move of the lifecycle table
    (bot.restore.lifecycle) applied only from the state it starts from, so of two racing callers exactly one
    wins; each change writes its audit records and its outbox rows with it, all or nothing; one active request
    per target instance (TargetBusy); approvals are unique per person, only while PENDING, unexpired and for the
    fingerprint, in stage order (bot.restore.stages), and the last one needed moves the request to APPROVED with
    it. A request's approvals are held to the flow frozen into it when it was made (bot.restore.flow), never to the
    configuration as it is now. A database that can't be used raises StoreUnavailable and records nothing.

    What an implementation is built with (construction, not this protocol): its ChangeObservers, told of each
    committed change of state, and an `on_notices` callback after each commit that wrote notices (so that this
    replica's announcer delivers them at once)."""

    @property
    def outbox(self) -> RequestOutbox: ...
    @property
    def leases(self) -> NamedLeases: ...
    @property
    def reviews(self) -> UrgentReviews: ...
    @property
    def drills(self) -> DrillSlots: ...
    @property
    def homes(self) -> HomeTabs: ...
    @property
    def reminders(self) -> StageReminders: ...

    # ---- changes -----------------------------------------------------------------------------------------
    async def create(
        self,
        *,
        plan: RestorePlan,
        requester_id: str,
        channel_id: str,
        required_approvals: int,
        now: datetime,
        expires_at: datetime,
        review: Review | None = None,
        flow: Flow | None = None,
        claim: SlotClaim | None = None,
    ) -> RestoreRequest:
        """A new PENDING request and its card notice, `flow` frozen into it (and into its fingerprint); TargetBusy
        when another active request holds the target. A drill's request claims its slot in the same change
        (SlotTaken when it was claimed: nothing is made) and is made approved when the claim says so."""
        ...

    async def transition(
        self,
        request_id: str,
        event: Event,
        *,
        actor: str,
        now: datetime,
        values: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        params: dict[str, ParamValue] | None = None,
    ) -> RestoreRequest | None:
        """Apply `event`'s move with its audit record and notices; None when the request's state has no such
        move (someone else moved it first). `values` may only name what a move writes (ValueError)."""
        ...

    async def approve(
        self,
        request_id: str,
        *,
        user_id: str,
        fingerprint: str,
        now: datetime,
        stage: int = 1,
        params: Mapping[str, ParamValue] | None = None,
    ) -> ApprovalOutcome: ...

    async def freeze_flow(self, request_id: str, flow: Flow, *, now: datetime) -> RestoreRequest | None:
        """Freeze `flow` (backfilled: made after the request) into a PENDING request that has none, with its audit
        record; None when it is not pending or already has one."""
        ...

    async def set_message(
        self, request_id: str, *, channel_id: str, message_ts: str, permalink: str | None = None
    ) -> None:
        """Where the card is; the permalink goes into every later audit record of the request."""
        ...

    async def set_progress(self, request_id: str, progress: int, *, now: datetime) -> bool:
        """Job progress while RUNNING, with a card notice; True when it changed."""
        ...

    async def notify(self, request_id: str, notices: Sequence[Outgoing], *, now: datetime) -> None:
        """Notices that go with no change of state."""
        ...

    # ---- reads -------------------------------------------------------------------------------------------
    async def get(self, request_id: str) -> RestoreRequest | None: ...
    async def find_by_job_id(self, job_id: str) -> RestoreRequest | None: ...
    async def active_for_target(self, target_instance_id: str) -> RestoreRequest | None: ...
    async def in_states(self, states: Iterable[RequestState]) -> list[RestoreRequest]:
        """Oldest first."""
        ...

    async def recent(
        self, limit: int = 10, *, requester_id: str | None = None, channel_id: str | None = None
    ) -> list[RestoreRequest]:
        """Newest first."""
        ...

    async def made_since(
        self, since: datetime, *, channel_ids: Collection[str] | None = None, limit: int = 10, offset: int = 0
    ) -> RequestPage:
        """The requests made at or after `since` (in `channel_ids`, when given), newest first: `limit` of them
        after the first `offset`, and how many there are in all."""
        ...

    async def finished_since(self, since: datetime) -> list[RestoreRequest]:
        """The requests that finished (completed or failed: their finished_at is set) at or after `since`, in the
        order they finished."""
        ...

    async def due_for_expiry(self, now: datetime) -> list[str]: ...
    async def count_by_state(self) -> dict[str, int]: ...
    async def next_expiry(self) -> datetime | None: ...
    async def audit_trail(
        self, request_id: str | None = None, *, since: datetime | None = None
    ) -> Sequence[AuditEntry]:
        """The chain (of one request, from `since` on) in order."""
        ...
