"""HuaweiDdmGateway: bot.ports.DdmGateway over DdmClient, the one place Huawei's answers become domain facts.

Reads raise DdmUnreachable with a message fit for people (and DDM's error code when it gave one). `submit`
POSTs once and returns a SubmitOutcome; it never raises for DDM's reasons. Every call passes the client's DDM
call budget (bot.huawei.budget): a gateway for people (form loads) waits about a second and a half for a slot,
the one from `background()` (the job follower) waits for the next minute.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

from pydantic import ValidationError

from bot.errors import DependencyError
from bot.huawei.budget import BACKGROUND_WAIT_SECONDS, INTERACTIVE_WAIT_SECONDS, CallBudget, Reservation
from bot.huawei.ddm import DdmClient
from bot.huawei.errors import (
    BudgetError,
    DdmApiError,
    DdmUnavailable,
    HuaweiError,
    InvalidInput,
    OutcomeUnknown,
)
from bot.huawei.models import Job, RecoveryRequest, RelatedDataNode, TimeWindow, first_error, to_epoch_ms
from bot.ports import DdmUnreachable
from bot.restore.facts import (
    Accepted,
    Instance,
    JobReport,
    JobStatus,
    NotSent,
    Refused,
    SourceDataNode,
    SubmitOutcome,
    TargetCandidate,
    Unknown,
)
from bot.restore.mapping import Candidate
from bot.restore.plan import RestorePlan
from bot.restore.timeparse import Window, datetime_of
from bot.restore.verification import ComputeNode, SchemaDataNodes, TargetDetails, UsedDataNode

log = logging.getLogger(__name__)
BAD_ANSWER = "DDM.BAD_ANSWER"  # the client's code for an answer it could not read
MAX_RESERVATIONS = 32  # prepared but never submitted ones just run out; this only bounds the list


@dataclass
class _Reservations:
    """POST slots taken by `prepare`, oldest first, shared by a gateway and its `background()` twin."""

    held: deque[Reservation] = field(default_factory=lambda: deque(maxlen=MAX_RESERVATIONS))

    def put(self, reservation: Reservation) -> None:
        self.held.append(reservation)

    def take(self, now_ms: int) -> Reservation | None:
        while self.held:
            reservation = self.held.popleft()
            if reservation.covers(now_ms):
                return reservation
        return None


class HuaweiDdmGateway:
    """`wait_seconds`: how long a call may wait for a slot of the DDM call budget (the client's) before it
    fails with "DDM is busy"; the default suits people waiting on a form."""

    def __init__(
        self,
        client: DdmClient,
        *,
        wait_seconds: float = INTERACTIVE_WAIT_SECONDS,
        reservations: _Reservations | None = None,
    ) -> None:
        self.client = client
        self.wait_seconds = wait_seconds
        self._reservations = reservations if reservations is not None else _Reservations()  # shared with twins

    def background(self, wait_seconds: float = BACKGROUND_WAIT_SECONDS) -> HuaweiDdmGateway:
        """The same gateway (client, reservations) for work nobody is waiting on, e.g. the job follower: its
        calls wait for the next minute when this one's are spent (at most `wait_seconds`)."""
        return HuaweiDdmGateway(self.client, wait_seconds=wait_seconds, reservations=self._reservations)

    @property
    def region(self) -> str:
        return self.client.region or ""

    @property
    def project_id(self) -> str:
        return self.client.project_id

    @property
    def budget(self) -> CallBudget | None:
        return self.client.budget

    async def aclose(self) -> None:
        await self.client.aclose()

    # ---- reads ---------------------------------------------------------------------------------------------

    async def instances(self) -> list[Instance]:
        with self._reading():
            found = await self.client.list_instances()
        return [Instance(id=i.id, name=i.name, status=i.status) for i in found]

    async def windows(self, source_id: str) -> list[Window]:
        with self._reading():
            found = await self.client.restorable_windows(source_id)
        return windows_of(found)

    async def targets(self, source_id: str) -> list[TargetCandidate]:
        with self._reading():
            found = await self.client.restorable_instances(source_id)
        return [
            TargetCandidate(id=t.instance_id, name=t.instance_name, available=t.available, reason=t.unavailable_reason)
            for t in found
        ]

    async def source_data_nodes(self, source_id: str, restore_time_ms: int) -> list[SourceDataNode]:
        with self._reading():
            related = await self.client.related_data_nodes(source_id, restore_time_ms)
        return [
            SourceDataNode(id=n.instance_id, name=n.instance_name, detail=node_detail(n))
            for n in related.related_data_nodes
        ]

    async def data_node_candidates(
        self, source_id: str, *, target_id: str, source_node_id: str, restore_time_ms: int
    ) -> list[Candidate]:
        with self._reading():
            found = await self.client.restorable_data_nodes(
                source_id,
                target_instance_id=target_id,
                source_dn_instance_id=source_node_id,
                restore_time=restore_time_ms,
            )
        return [
            Candidate(id=n.instance_id, name=n.instance_name, available=n.available, reason=n.unavailable_reason)
            for n in found
        ]

    async def job(self, job_id: str) -> JobReport:
        with self._reading():
            return job_report_of(await self.client.job(job_id))

    async def jobs(self, start_ms: int, end_ms: int) -> list[JobReport]:
        """Every job created in [start_ms, end_ms], all pages (each page is one call of the budget)."""
        with self._reading():
            found = await self.client.jobs(datetime_of(start_ms), datetime_of(end_ms))
        reports: list[JobReport] = []
        for job in found:
            # The list holds every job of the project, most not ours: one we can't read must not hide the rest
            # (the follower reads a job of ours that is missing here on its own, and that one fails alone).
            try:
                reports.append(job_report_of(job))
            except BadAnswer as exc:
                log.warning("job %s in DDM's job list can't be read: %s", job.id, exc)
        return reports

    async def instance_details(self, instance_id: str) -> TargetDetails:
        with self._reading():
            found = await self.client.show_instance(instance_id)
        return TargetDetails(
            status=found.status,
            access_ip=found.access_ip or None,
            access_port=found.access_port or None,
            engine_version=found.engine_version or None,
            nodes=tuple(ComputeNode(status=n.status, ip=n.ip, port=n.port) for n in found.nodes),
        )

    async def schema_data_nodes(self, instance_id: str) -> SchemaDataNodes:
        with self._reading():
            schemas = await self.client.list_databases(instance_id)
        nodes: dict[str, UsedDataNode] = {}
        for schema in schemas:
            for used in schema.used_rds:
                nodes.setdefault(used.id, UsedDataNode(id=used.id, name=used.name or "", status=used.status))
        return SchemaDataNodes(schemas=len(schemas), nodes=tuple(nodes.values()))

    # ---- the restore ---------------------------------------------------------------------------------------

    async def prepare(self, calls: int = 1) -> None:
        """Fetch the token and take the budget's slots for the next `calls` calls now, in one write: the last
        one is the POST's, which then neither authenticates nor waits; the others pay for the calls this task
        makes meanwhile (the re-check before the POST).

        Raises DdmUnreachable when that can't be done (IAM unreachable, the budget spent): nothing was sent.
        """
        taken: Reservation | None = None
        with self._reading():
            await self.client.prepare()
            if self.budget is not None:
                # Never more than a minute holds: a plan with very many data nodes pays for the rest as it goes.
                taken = await self.budget.reserve(
                    max_wait=self.wait_seconds, calls=max(1, min(calls, self.budget.per_minute))
                )
                self._reservations.put(Reservation(taken.minutes, 1))
        if self.budget is not None and taken is not None and taken.calls > 1:
            # Outside the reading block, whose own budget context ends with it: the loan lasts for this task.
            self.budget.lend(Reservation(taken.minutes, taken.calls - 1))

    async def submit(self, plan: RestorePlan) -> SubmitOutcome:
        """The one POST of `plan`: never repeated here (the client repeats only a 401, which nothing ran on)."""
        if plan.project_id and plan.project_id != self.project_id:
            # The approvals bound this project (it is in the fingerprint): never send the plan to another one.
            return NotSent("INVALID_INPUT", f"the plan is for project {plan.project_id}, not {self.project_id}")
        try:
            body = RecoveryRequest.model_validate(plan.restore_body())
        except ValidationError as exc:
            return NotSent("INVALID_INPUT", f"the restore request is not valid: {first_error(exc)}")
        spending: AbstractContextManager[None] = nullcontext()
        if self.budget is not None:
            reservation = self._reservations.take(self.budget.now_ms())
            if reservation is None:  # not prepared (or prepared too long ago): take the slot before the POST
                try:
                    # Briefly: the request is SUBMITTING meanwhile, and a long silence there looks like a lost POST.
                    reservation = await self.budget.reserve(max_wait=min(self.wait_seconds, INTERACTIVE_WAIT_SECONDS))
                except BudgetError as exc:
                    return NotSent("NOT_SENT", f"{exc}; the restore was not sent")
            spending = self.budget.spending(reservation)
        try:
            with spending:
                job_id = await self.client.restore(plan.source.id, body)
        except OutcomeUnknown as exc:
            error = exc.error
            return Unknown(
                str(exc),
                code=error.error_code if error is not None else None,
                detail=error.error_msg if error is not None else None,
            )
        except DdmApiError as exc:
            return Refused(exc.error_code, exc.error_msg)
        except DdmUnavailable as exc:
            return NotSent("NOT_SENT", str(exc))
        except InvalidInput as exc:
            return NotSent("INVALID_INPUT", str(exc))
        return Accepted(job_id)

    # ---- plumbing ------------------------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Inside: calls wait for the budget as this gateway does; whatever goes wrong becomes DdmUnreachable."""
        budget = self.budget
        paying: AbstractContextManager[None] = nullcontext()
        if budget is not None and not budget.lent():  # a lent reservation pays first, then its holder waits
            paying = budget.waiting(self.wait_seconds)
        try:
            with paying:
                yield
        except HuaweiError as exc:
            raise unreachable(exc) from None
        except BadAnswer as exc:
            raise DdmUnreachable(f"DDM's answer can't be used: {exc}", code=BAD_ANSWER) from None


class BadAnswer(DependencyError, ValueError):
    """DDM answered something the domain can't hold (e.g. a job status we don't know)."""


def unreachable(exc: HuaweiError) -> DdmUnreachable:
    """A Huawei error as a sentence for people, led by DDM's own code when it answered with one (the form's
    one-line options show only the start); the code is kept apart too."""
    if isinstance(exc, DdmApiError):
        return DdmUnreachable(str(exc), code=exc.error_code)
    return DdmUnreachable(str(exc))  # the budget's "DDM is busy: …", "DDM could not be reached …", bad input


# ---- Huawei answers -> domain facts ------------------------------------------------------------------------


def windows_of(found: list[TimeWindow]) -> list[Window]:
    return sorted((Window(to_epoch_ms(w.start_time), to_epoch_ms(w.end_time)) for w in found), key=_start)


def _start(window: Window) -> int:
    return window.start_ms


_STATUSES = {status.value.lower(): status for status in JobStatus}


def job_report_of(job: Job) -> JobReport:
    """A DDM job as the follower reads it. A status outside Running/Completed/Failed is refused, not guessed:
    a wrong guess could end a restore that is still running."""
    status = _STATUSES.get(job.status.strip().lower())
    if status is None:
        raise BadAnswer(f"job {job.id} has the status {job.status!r}, which I don't know")
    return JobReport(
        id=job.id,
        status=status,
        name=job.name or None,
        instance_id=job.target_instance_id or None,
        created_ms=to_epoch_ms(job.created_time) if job.created_time else None,
        ended_ms=to_epoch_ms(job.end_time) if job.end_time else None,
        percent=job.percent,
        fail_reason=job.fail_reason or None,
    )


def node_detail(node: RelatedDataNode) -> str:
    """`MySQL 8.0, 100 GB`: what people need to tell the data nodes apart."""
    parts = []
    if node.engine_name or node.version:
        parts.append(" ".join(p for p in (node.engine_name, node.version) if p))
    if node.data_volume_size is not None:
        size = node.data_volume_size
        parts.append(f"{int(size) if float(size).is_integer() else size} GB")
    return ", ".join(parts) or "data node"
