"""The world file format as pydantic models: reading a world JSON (with errors that name the bad field) and
writing one back. The format is documented in ``world.py``; ``example_world.json`` is an instance of it.

Unknown keys are refused everywhere: a typo in a drill world should fail loudly, not be ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bot.simulator.model import (
    DDM_RUNNING,
    JOB_COMPLETED,
    JOB_RUNNING,
    RDS_ACTIVE,
    RESTORE_JOB_NAME,
    DdmInstance,
    Job,
    Moment,
    RdsInstance,
    RestorableWindow,
    WorldError,
)


def _moment(value: object) -> Moment:
    if isinstance(value, Moment):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Moment(offset_seconds=float(value))
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 time") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} needs a time zone")
        return Moment(absolute=parsed.astimezone(UTC))
    raise ValueError("must be seconds relative to now (a number) or an ISO-8601 time (a string)")


# A number = seconds relative to now (negative = past); a string = an absolute ISO-8601 time with a zone.
MomentField = Annotated[Moment, PlainValidator(_moment), PlainSerializer(lambda m: m.to_json())]
Text = Annotated[str, StringConstraints(min_length=1, strict=True)]
Count = Annotated[StrictInt, Field(ge=0)]
Outcome = Literal["Completed", "Failed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowJson(_Strict):
    start: MomentField
    end: MomentField


class DdmJson(_Strict):
    id: Text
    name: Text
    status: Text = DDM_RUNNING
    engine_version: Text = "3.1.5"
    node_count: Count = 2
    vpc_id: Text = "3f2c8a1e-6b4d-4e9a-8c7f-1a2b3c4d5e6f"
    vpc_name: Text = "vpc-prod"
    available_zone: Text = "ap-southeast-1a"
    created: MomentField = Moment()
    updated: MomentField | None = None  # default: the created time
    schemas: list[Text] = Field(default_factory=list)
    accounts: list[Text] = Field(default_factory=list)
    restorable_windows: list[WindowJson] = Field(default_factory=list)
    restore_outcome: Outcome = "Completed"
    fail_reason: str | None = None
    after_restore: Text = DDM_RUNNING
    access_ip: Text | None = None
    access_port: Annotated[StrictInt, Field(ge=1, le=65535)] | None = None

    def to_instance(self, now: datetime, where: str) -> DdmInstance:
        windows = []
        for n, w in enumerate(self.restorable_windows):
            if w.start.resolve(now) > w.end.resolve(now):
                raise WorldError(f"{where}.restorable_windows[{n}]: start is after end")
            windows.append(RestorableWindow(start=w.start, end=w.end))
        created = self.created.resolve(now)
        return DdmInstance(
            id=self.id,
            name=self.name,
            status=self.status,
            engine_version=self.engine_version,
            node_count=self.node_count,
            vpc_id=self.vpc_id,
            vpc_name=self.vpc_name,
            available_zone=self.available_zone,
            created=created,
            updated=self.updated.resolve(now) if self.updated is not None else created,
            schemas=list(self.schemas),
            accounts=list(self.accounts),
            restorable_windows=windows,
            restore_outcome=self.restore_outcome,
            fail_reason=self.fail_reason,
            after_restore=self.after_restore,
            access_ip=self.access_ip,
            access_port=self.access_port,
        )

    @classmethod
    def of(cls, i: DdmInstance) -> DdmJson:
        return cls(
            id=i.id,
            name=i.name,
            status=i.status,
            engine_version=i.engine_version,
            node_count=i.node_count,
            vpc_id=i.vpc_id,
            vpc_name=i.vpc_name,
            available_zone=i.available_zone,
            created=Moment(absolute=i.created),
            updated=Moment(absolute=i.updated),
            schemas=list(i.schemas),
            accounts=list(i.accounts),
            restorable_windows=[WindowJson(start=w.start, end=w.end) for w in i.restorable_windows],
            restore_outcome="Failed" if i.restore_outcome == "Failed" else "Completed",
            fail_reason=i.fail_reason,
            after_restore=i.after_restore,
            access_ip=i.access_ip,
            access_port=i.access_port,
        )


class RdsJson(_Strict):
    id: Text
    name: Text
    engine: Text = "MySQL"
    version: Text = "8.0.28"
    data_volume_size: Count = 100  # GB
    status: Text = RDS_ACTIVE
    vpc_name: Text = "vpc-prod"
    private_ip: Text = "192.168.0.10"
    ddm_instance_id: Text | None = None  # the DDM instance it is a data node of; null = free

    def to_instance(self) -> RdsInstance:
        return RdsInstance(**self.model_dump())

    @classmethod
    def of(cls, r: RdsInstance) -> RdsJson:
        return cls(
            id=r.id,
            name=r.name,
            engine=r.engine,
            version=r.version,
            data_volume_size=r.data_volume_size,
            status=r.status,
            vpc_name=r.vpc_name,
            private_ip=r.private_ip,
            ddm_instance_id=r.ddm_instance_id,
        )


class JobJson(_Strict):
    id: Text
    name: Text = RESTORE_JOB_NAME
    instance_id: Text
    created: MomentField = Moment()
    status: Literal["Running", "Completed", "Failed"] = "Running"
    duration_seconds: Annotated[StrictFloat, Field(ge=0)] | None = None  # strict: no "5" or true; 5 is fine
    end_time: MomentField | None = None
    outcome: Outcome | None = None  # how a Running job will end; default Completed (a finished job: its status)
    fail_reason: str | None = None
    source_instance_id: Text | None = None
    restore_time: Annotated[StrictInt, Field(gt=0)] | None = None  # epoch milliseconds
    target_data_node_ids: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_outcome(self) -> JobJson:
        if self.outcome is None:
            self.outcome = JOB_COMPLETED if self.status == JOB_RUNNING else self.status  # type: ignore[assignment]
        return self

    def to_job(self, now: datetime) -> Job:
        return Job(
            id=self.id,
            name=self.name,
            instance_id=self.instance_id,
            created=self.created.resolve(now),
            status=self.status,
            duration_seconds=float(self.duration_seconds) if self.duration_seconds is not None else None,
            end_time=self.end_time.resolve(now) if self.end_time is not None else None,
            outcome=self.outcome or JOB_COMPLETED,
            fail_reason=self.fail_reason,
            source_instance_id=self.source_instance_id,
            restore_time=self.restore_time,
            target_data_node_ids=list(self.target_data_node_ids),
        )

    @classmethod
    def of(cls, j: Job) -> JobJson:
        return cls.model_validate(
            {
                "id": j.id,
                "name": j.name,
                "instance_id": j.instance_id,
                "created": Moment(absolute=j.created),
                "status": j.status,
                "duration_seconds": j.duration_seconds,
                "end_time": Moment(absolute=j.end_time) if j.end_time else None,
                "outcome": j.outcome,
                "fail_reason": j.fail_reason,
                "source_instance_id": j.source_instance_id,
                "restore_time": j.restore_time,
                "target_data_node_ids": list(j.target_data_node_ids),
            }
        )


class WorldJson(_Strict):
    ddm_instances: list[DdmJson] = Field(default_factory=list)
    rds_instances: list[RdsJson] = Field(default_factory=list)
    jobs: list[JobJson] = Field(default_factory=list)

    @classmethod
    def parse(cls, data: object) -> WorldJson:
        """Validate a decoded world JSON; WorldError names every bad field (``jobs[0].status: ...``)."""
        if not isinstance(data, dict):
            raise WorldError("world: must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            # One message per place: a union (e.g. int | float) reports each branch's complaint.
            messages = dict.fromkeys(_describe(e) for e in exc.errors())
            raise WorldError("; ".join(messages)) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _describe(error: Any) -> str:
    where = "world"
    for part in error["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part in ("function-after", "function-plain", "int", "float", "str") or "[" in str(part):
            continue  # pydantic's names for union branches, not places in the file
        else:
            where += f".{part}"
    where = where.removeprefix("world.")
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    if error["type"] == "missing":
        return f"{where}: missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"
