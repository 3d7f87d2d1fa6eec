"""The small interfaces between the layers, in domain types only: what the workflow talks through (DDM, the
people directory, the request repository; Huawei, Slack and the store implement them), and what it offers
people (RequestDesk; the Slack listeners call it)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.errors import DependencyError, PersonError
from bot.ports_audit import AuditEntry as AuditEntry
from bot.restore.checks import PlanProblem
from bot.restore.drills import SlotClaim, SlotRecord
from bot.restore.environment import Standing
from bot.restore.facts import Instance, JobReport, SourceDataNode, SubmitOutcome, TargetCandidate
from bot.restore.figures import EnvironmentStats
from bot.restore.flow import Flow
from bot.restore.lifecycle import Event
from bot.restore.mapping import Candidate
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.policy import Actor
from bot.restore.reminders import Due, ReminderRule
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.review import Review
from bot.restore.timeparse import Window
from bot.restore.verification import CheckResult, SchemaDataNodes, SqlCheck, TargetDetails


class DdmUnreachable(DependencyError):
    """DDM could not be asked, or its answer could not be used; the message is fit for people."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # DDM's error code when it answered with one (e.g. DBS.280001)


class DdmGateway(Protocol):
    """What the bot needs of DDM (`bot.huawei.ddm_gateway.HuaweiDdmGateway` is the real one).

    Reads raise DdmUnreachable; `submit` never raises for DDM's reasons: it returns a SubmitOutcome.
    """

    @property
    def region(self) -> str: ...
    @property
    def project_id(self) -> str: ...

    async def prepare(self, calls: int = 1) -> None:
        """Get ready for the next `calls` calls, the last being the POST (fetch a token, take their share of the
        call budget at once), so that no auth round trip or budget wait eats the POST's time."""
        ...

    async def instances(self) -> list[Instance]: ...
    async def windows(self, source_id: str) -> list[Window]: ...
    async def targets(self, source_id: str) -> list[TargetCandidate]: ...
    async def source_data_nodes(self, source_id: str, restore_time_ms: int) -> list[SourceDataNode]: ...
    async def data_node_candidates(
        self, source_id: str, *, target_id: str, source_node_id: str, restore_time_ms: int
    ) -> list[Candidate]: ...
    async def submit(self, plan: RestorePlan) -> SubmitOutcome:
        """The one POST of `plan` (never repeated by the gateway)."""
        ...

    async def job(self, job_id: str) -> JobReport: ...
    async def jobs(self, start_ms: int, end_ms: int) -> list[JobReport]:
        """Every job created in [start_ms, end_ms] (DDM allows 30 days back)."""
        ...

    async def instance_details(self, instance_id: str) -> TargetDetails:
        """A DDM instance's status, access address, version and nodes (what a restored target is verified by)."""
        ...

    async def schema_data_nodes(self, instance_id: str) -> SchemaDataNodes:
        """The data nodes a DDM instance's logical schemas use (all pages)."""
        ...


class TargetUnreachable(DependencyError):
    """The SQL checks could not run on the target (no connection, the account refused): try again later. The
    message is fit for people and holds no secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TargetProbe(Protocol):
    """Runs an environment's SQL checks on a restored target with its read-only account
    (`bot.verify_sql.probe.MySqlProbe` is the real one)."""

    async def run(self, host: str, port: int, check: SqlCheck, *, limit_seconds: float) -> CheckResult:
        """One check within `limit_seconds`: its number judged, or why it has none (the query failed, took too
        long). Raises TargetUnreachable when it could not be run at all."""
        ...


class UserDirectory(Protocol):
    async def actor(self, user_id: str) -> Actor:
        """Who this person is for the policy: guest or not, and which configured groups they are in."""
        ...


class ChangeObserver(Protocol):
    def __call__(self, change: str, request: RestoreRequest) -> None:
        """After a committed change of a request's state: `change` is "create" or the lifecycle event's value
        (bot.restore.lifecycle.Event), `request` the request as it now is. The change is done: whatever an
        observer does, it can't undo it (the store logs an observer's exception and goes on)."""
        ...


# ---- the request repository (bot.store.sql_store.RequestStore on SQL; bot.store.memory.MemoryStore) ---------


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


class SlotTaken(Exception):
    """A drill's slot was claimed already (by another replica, or before a restart): nothing was made."""


class DrillSlots(Protocol):
    """A row per drill and slot (bot.restore.drills); a request's slot is claimed by RequestRepository.create."""

    async def record(self, drill: str, slot: datetime, outcome: str, *, now: datetime, detail: str = "") -> bool:
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


# ---- what the workflow offers people (bot.workflow.desk.RestoreDesk) ----------------------------------------


class RequestDesk(Protocol):
    """People's side of a request. A use case that says no raises a Refusal (bot.errors) for the person who
    asked, with the form's field when it has one; nothing is changed then."""

    def new_plan(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        mappings: tuple[DataNodeMapping, ...],
        reason: str = "",
        channel_id: str = "",
        urgent_incident: str = "",
    ) -> RestorePlan:
        """A plan for the environment of the channel: its name, project and region are part of what approvals
        bind to. Refused in a channel that is in no environment."""
        ...

    async def check_plan_live(self, plan: RestorePlan) -> list[PlanProblem]:
        """The one plan check against DDM now (what the form shows before it closes). Empty when possible."""
        ...

    async def precheck_create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        """Refuse (with the field to blame) if `create` would refuse for who or where; changes nothing. The live
        plan check is `check_plan_live`."""
        ...

    async def flow_for(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        data_nodes: int,
        requester_id: str,
        channel_id: str,
    ) -> Flow:
        """The approval flow such a request would get if it were made now (what step 2 shows before submit); a
        Refusal (field "flow") with the rule's message when a routing rule refuses it."""
        ...

    async def create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> RestoreRequest:
        """Check the plan once more against DDM, choose its approval flow (the routing rules, now) and store it as
        a PENDING request with that flow frozen into it, named as DDM names things; the announcer posts its card."""
        ...

    async def approve(self, request_id: str, user_id: str) -> None:
        """One approval click; when it was the last one needed, returns after the submission."""
        ...

    async def check_reject(self, request_id: str, user_id: str) -> None:
        """May this person reject? (Asked before opening the reason dialog.)"""
        ...

    async def reject(self, request_id: str, user_id: str, reason: str) -> None: ...
    async def cancel(self, request_id: str, user_id: str) -> None: ...
    async def review(self, request_id: str, user_id: str) -> None:
        """The [Reviewed] click on an urgent request's follow-up review (audited)."""
        ...

    async def standing(self, user_id: str, channel_id: str) -> Standing:
        """What this person may do in this channel (`/ddm-restore whoami`): its environment, whether they may
        request there (the policy's refusal if not), the approval stages they may approve in. Changes nothing."""
        ...

    async def nudge(self, request_id: str, user_id: str) -> None:
        """The requester's [Nudge]: the current stage's approvers are mentioned and DMed (within its cooldown)."""
        ...

    async def find(self, reference: str) -> RestoreRequest | None:
        """A request by its id (in any spelling people type) or its DDM job id."""
        ...

    async def recent(self, limit: int = 10, *, channel_id: str | None = None) -> list[RestoreRequest]:
        """Newest first."""
        ...

    async def history(self, days: int, *, channel_ids: Collection[str] | None, page: int = 1) -> RequestPage:
        """Page `page` (from 1) of the requests made in the last `days` days (1 to STATS_DAYS_MAX) in `channel_ids`
        (None: any channel), newest first."""
        ...

    async def stats(self, days: int) -> list[EnvironmentStats]:
        """The figures of the restores that finished in the last `days` days (1 to STATS_DAYS_MAX), by
        environment (bot.restore.figures)."""
        ...
