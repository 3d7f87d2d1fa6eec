"""What DDM tells us, in the domain's terms (bot.huawei.ddm_gateway turns DDM's answers into these).

Windows are `bot.restore.timeparse.Window`; data-node candidates are `bot.restore.mapping.Candidate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Instance:
    """A DDM instance that can be a restore source."""

    id: str
    name: str
    status: str | None = None


@dataclass(frozen=True)
class TargetCandidate:
    """A DDM instance DDM offers as a restore target for a source."""

    id: str
    name: str
    available: bool
    reason: str | None = None  # why it is unavailable


@dataclass(frozen=True)
class SourceDataNode:
    """A data node of the source at a restore point."""

    id: str
    name: str
    detail: str  # for people: "MySQL 8.0, 100 GB"


class JobStatus(StrEnum):
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"


@dataclass(frozen=True)
class JobReport:
    """A DDM job as the follower needs it."""

    id: str
    status: JobStatus
    name: str | None = None
    instance_id: str | None = None  # the instance the job names (which one, for a restore, is unverified)
    created_ms: int | None = None
    ended_ms: int | None = None
    percent: int | None = None
    fail_reason: str | None = None

    @property
    def is_finished(self) -> bool:
        return self.status is not JobStatus.RUNNING


# ---- the outcome of the one POST ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """DDM took the restore and named its job."""

    job_id: str


@dataclass(frozen=True)
class Refused:
    """DDM answered no (a 4xx): nothing was restored."""

    code: str
    message: str


@dataclass(frozen=True)
class NotSent:
    """The POST never left (no connection, invalid input): nothing was restored."""

    code: str  # NOT_SENT | INVALID_INPUT
    message: str


@dataclass(frozen=True)
class Unknown:
    """The POST may have reached DDM (timeout, dropped answer, 5xx): never send it again; reconcile."""

    message: str
    code: str | None = None  # a 5xx's own error code, for the audit trail
    detail: str | None = None


SubmitOutcome = Accepted | Refused | NotSent | Unknown
