"""The simulated cloud's things at run time: DDM instances, RDS for MySQL data nodes, restore jobs, and times.

Plain dataclasses the routes read and change; the JSON file format lives in ``world_json.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.errors import PersonError

JOB_RUNNING = "Running"
JOB_COMPLETED = "Completed"
JOB_FAILED = "Failed"
JOB_STATUSES = (JOB_RUNNING, JOB_COMPLETED, JOB_FAILED)
RESTORE_JOB_NAME = "RestoreInstance"

DDM_RUNNING = "RUNNING"
DDM_RESTORE = "RESTORE"
RDS_ACTIVE = "ACTIVE"
RDS_RESTORING = "RESTORING"

API_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S+0000"


class WorldError(PersonError, ValueError):
    """A world JSON file is not valid; the message names the offending place."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_api_time(moment: datetime) -> str:
    """The service's time style: ``2025-05-20T09:40:40+0000`` (always UTC)."""
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def epoch_ms(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class Moment:
    """A point in time: absolute, or an offset from the clock's *now* read at use (keeps demo worlds current)."""

    absolute: datetime | None = None
    offset_seconds: float = 0.0

    @classmethod
    def ago(cls, seconds: float) -> Moment:
        return cls(offset_seconds=-seconds)

    def resolve(self, now: datetime) -> datetime:
        return self.absolute if self.absolute is not None else now + timedelta(seconds=self.offset_seconds)

    def to_json(self) -> float | str:
        if self.absolute is not None:
            return self.absolute.astimezone(UTC).isoformat()
        value = self.offset_seconds
        return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class RestorableWindow:
    start: Moment
    end: Moment

    def resolve(self, now: datetime) -> tuple[datetime, datetime]:
        return self.start.resolve(now), self.end.resolve(now)


@dataclass
class DdmInstance:
    id: str
    name: str
    status: str = DDM_RUNNING
    engine_version: str = "3.1.5"
    node_count: int = 2
    vpc_id: str = "3f2c8a1e-6b4d-4e9a-8c7f-1a2b3c4d5e6f"
    vpc_name: str = "vpc-prod"
    available_zone: str = "ap-southeast-1a"
    created: datetime = field(default_factory=utc_now)
    updated: datetime = field(default_factory=utc_now)
    schemas: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    restorable_windows: list[RestorableWindow] = field(default_factory=list)
    restore_outcome: str = JOB_COMPLETED
    fail_reason: str | None = None
    # Where it speaks MySQL (None: an address made up from its id); a test points it at a real MariaDB.
    access_ip: str | None = None
    access_port: int | None = None
    # The status it settles in once a restore onto it completed (RUNNING; anything else: it stays abnormal),
    # and when that happens (None: not settling).
    after_restore: str = DDM_RUNNING
    settles_at: datetime | None = None


@dataclass
class RdsInstance:
    id: str
    name: str
    engine: str = "MySQL"
    version: str = "8.0.28"
    data_volume_size: int = 100
    status: str = RDS_ACTIVE
    vpc_name: str = "vpc-prod"
    private_ip: str = "192.168.0.10"
    ddm_instance_id: str | None = None


@dataclass
class Job:
    id: str
    instance_id: str
    created: datetime
    name: str = RESTORE_JOB_NAME
    status: str = JOB_RUNNING
    duration_seconds: float | None = None  # None: the server's job_seconds
    end_time: datetime | None = None
    outcome: str = JOB_COMPLETED
    fail_reason: str | None = None
    source_instance_id: str | None = None
    restore_time: int | None = None
    target_data_node_ids: list[str] = field(default_factory=list)

    def due(self, default_seconds: float) -> datetime:
        seconds = self.duration_seconds if self.duration_seconds is not None else default_seconds
        return self.created + timedelta(seconds=seconds)

    def process(self, now: datetime, default_seconds: float) -> str:
        """``"40%"`` while running (rising with time, never 100 before the end); ``""`` otherwise, as the API."""
        if self.status != JOB_RUNNING:
            return ""
        total = (self.due(default_seconds) - self.created).total_seconds()
        done = (now - self.created).total_seconds()
        percent = 99 if total <= 0 else int(100 * done / total)
        return f"{max(0, min(99, percent))}%"
