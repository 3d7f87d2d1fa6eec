"""Pydantic models of the DDM restore API family: what we send and what the service answers.

Times: the service writes them as strings like ``2025-05-20T09:40:40+0000`` or as epoch milliseconds; both
become timezone-aware ``datetime``s here. A time without a zone is read as UTC, which is what the service means.
Restore points go out as integer epoch milliseconds, never as text.

Answers are read tolerantly, as Huawei writes them: every optional field may be missing, ``null`` or ``""`` (the
service's way of saying "unset", e.g. a running job's ``"end_time": ""``) and means its default; unknown fields
are ignored. The fields a decision rests on stay strict: ids, a job's status, a window's start and end, the
``available`` flags. A bad one of those is a bad answer (``DDM.BAD_ANSWER``), never a guess.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)


def parse_api_time(value: Any) -> Any:
    """Read a service time (ISO text with any zone style, or epoch ms) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


ApiTime = Annotated[datetime, BeforeValidator(parse_api_time)]


def to_epoch_ms(moment: datetime) -> int:
    """Aware datetime -> epoch milliseconds (exact; no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("a time without a time zone is ambiguous")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


# An id or a status: what a decision rests on, so never empty.
Decisive = Annotated[str, StringConstraints(min_length=1)]


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


class _Answer(BaseModel):
    # Answers may grow fields; we keep what we know and ignore the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _unset_means_default(cls, data: Any) -> Any:
        """An optional field sent as ``null`` or ``""`` is read as not sent: its default applies."""
        if not isinstance(data, dict):
            return data
        optional = {name for name, info in cls.model_fields.items() if not info.is_required()}
        return {key: value for key, value in data.items() if not (key in optional and _is_unset(value))}


class DdmInstance(_Answer):
    id: Decisive
    name: str
    status: str | None = None
    engine_version: str | None = None
    node_count: int | None = None
    vpc_id: str | None = None


class InstancePage(_Answer):
    instances: list[DdmInstance] = Field(default_factory=list)
    total: int | None = None


class TimeWindow(_Answer):
    start_time: ApiTime
    end_time: ApiTime

    def contains(self, moment: datetime) -> bool:
        return self.start_time <= moment <= self.end_time


class RestorableWindows(_Answer):
    restorable_time_intervals: list[TimeWindow] = Field(default_factory=list)


class RestorableInstance(_Answer):
    instance_id: Decisive
    instance_name: str
    status: str | None = None
    available: bool
    unavailable_reason: str | None = None
    vpc_name: str | None = None


class RestorableInstancePage(_Answer):
    instances: list[RestorableInstance] = Field(default_factory=list)
    total: int | None = None


class RelatedDataNode(_Answer):
    instance_id: Decisive
    instance_name: str
    instance_status: str | None = None
    data_volume_size: float | None = None
    version: str | None = None
    engine_name: str | None = None


class RelatedDataNodes(_Answer):
    related_data_nodes: list[RelatedDataNode] = Field(default_factory=list)
    latest_restorable_time: ApiTime | None = None


class TargetDataNode(_Answer):
    instance_id: Decisive
    instance_name: str
    engine_name: str | None = None
    status: str | None = None
    available: bool
    unavailable_reason: str | None = None
    vpc_name: str | None = None
    private_ip: str | None = None


class TargetDataNodes(_Answer):
    target_data_nodes: list[TargetDataNode] = Field(default_factory=list)


class RecoveryAccepted(_Answer):
    job_id: Decisive


class JobInstance(_Answer):
    id: str | None = None
    name: str | None = None


JOB_RUNNING = "Running"
JOB_COMPLETED = "Completed"
JOB_FAILED = "Failed"


class Job(_Answer):
    id: Decisive
    name: str | None = None
    status: Decisive
    created_time: ApiTime | None = None
    end_time: ApiTime | None = None
    process: str | None = None
    fail_reason: str | None = None
    instance: JobInstance | None = None
    # The job *list* flattens the instance into these two fields.
    instance_id: str | None = None
    instance_name: str | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in (JOB_COMPLETED, JOB_FAILED)

    @property
    def succeeded(self) -> bool:
        return self.status == JOB_COMPLETED

    @property
    def target_instance_id(self) -> str | None:
        return self.instance.id if self.instance and self.instance.id else self.instance_id

    @property
    def percent(self) -> int | None:
        if not self.process:
            return None
        digits = self.process.strip().rstrip("%").strip()
        try:
            return max(0, min(100, int(float(digits))))
        except ValueError:
            return None


class JobAnswer(_Answer):
    job: Job


class JobPage(_Answer):
    jobs: list[Job] = Field(default_factory=list)
    total: int | None = None


# ---- after a restore: the target's details and its schemas (V1 calls) ----------------------------------------


def _text(value: Any) -> Any:
    """A port DDM documents as a string may come as a number: read it as the string it stands for."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PortText = Annotated[str, BeforeValidator(_text)]


class InstanceNode(_Answer):
    """One DDM node of an instance (SDK: GetDetailfNodesInfo)."""

    status: str | None = None
    port: PortText | None = None
    ip: str | None = None
    node_id: str | None = None


class InstanceDetails(_Answer):
    """`GET /v1/{project_id}/instances/{instance_id}` (SDK: ShowInstanceResponse), the fields the bot reads."""

    id: Decisive
    status: Decisive
    name: str | None = None
    access_ip: str | None = None
    access_port: PortText | None = None
    engine_version: str | None = None
    node_count: int | None = None
    nodes: list[InstanceNode] = Field(default_factory=list)


class UsedRds(_Answer):
    """An RDS instance a logical schema uses (SDK: GetDatabaseUsedRds)."""

    id: Decisive
    name: str | None = None
    status: str | None = None


class LogicalDatabase(_Answer):
    """A logical schema of a DDM instance (SDK: GetDatabaseInfo)."""

    name: str | None = None
    status: str | None = None
    used_rds: list[UsedRds] = Field(default_factory=list)


class DatabasePage(_Answer):
    """`GET /v1/{project_id}/instances/{instance_id}/databases` (SDK: ListDatabasesResponse)."""

    databases: list[LogicalDatabase] = Field(default_factory=list)
    total: int | None = None


# ---- the restore request body (the seed call) -------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestoreSource(_Body):
    restore_time: int = Field(gt=0, description="Restore point, epoch milliseconds")


class RestoreTarget(_Body):
    instance_id: str = Field(min_length=1)


class DataNodeRelation(_Body):
    source_instance_id: str = Field(min_length=1)
    target_instance_id: str = Field(min_length=1)


class RecoveryRequest(_Body):
    """Body of POST /v3/{project_id}/instances/{instance_id}/backups/recovery, exactly as the seed shows."""

    source: RestoreSource
    target: RestoreTarget
    data_node_relations: list[DataNodeRelation]

    @field_validator("data_node_relations")
    @classmethod
    def _relations_are_a_matching(cls, relations: list[DataNodeRelation]) -> list[DataNodeRelation]:
        if not relations:
            raise ValueError("at least one source→target data node relation is required")
        sources = [r.source_instance_id for r in relations]
        targets = [r.target_instance_id for r in relations]
        if len(set(sources)) != len(sources):
            raise ValueError("a source data node is mapped more than once")
        if len(set(targets)) != len(targets):
            raise ValueError("a target data node is used more than once")
        return relations

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def first_error(exc: ValidationError) -> str:
    """The first thing pydantic found wrong, as "where: what" (a line for a message, not the whole report)."""
    errors = exc.errors()
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "body"
    return f"{where}: {first.get('msg', 'invalid')}"
