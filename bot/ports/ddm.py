"""What the workflow asks of DDM (bot.huawei.ddm_gateway implements it), in domain types."""

from __future__ import annotations

from typing import Protocol

from bot.errors import DependencyError
from bot.restore.facts import Instance, JobReport, SourceDataNode, SubmitOutcome, TargetCandidate
from bot.restore.mapping import Candidate
from bot.restore.plan import RestorePlan
from bot.restore.timeparse import Window
from bot.restore.verification import SchemaDataNodes, TargetDetails


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
