"""The simulated cloud: DDM instances, RDS for MySQL data nodes and restore jobs; JSON loading; the demo world.

World JSON format (``example_world.json`` is exactly :func:`demo_world`)::

    {
      "ddm_instances": [{
        "id": "<32 hex>in09", "name": "orders-prod",
        "status": "RUNNING",                  # optional, default RUNNING
        "engine_version": "3.1.5",            # optional
        "node_count": 2,                      # DDM compute nodes, optional
        "vpc_id": "...", "vpc_name": "vpc-prod", "available_zone": "ap-southeast-1a",   # optional
        "created": -7776000,                  # optional; see "Times" below
        "schemas": ["orders"], "accounts": ["app"],       # optional; a restore target must have none
        "restorable_windows": [{"start": -604800, "end": -300}],   # optional; [] = no backups
        "restore_outcome": "Completed",       # optional: how a restore ONTO this instance ends
        "fail_reason": null                   #   ("Failed" + a reason to drill failures)
      }],
      "rds_instances": [{
        "id": "<32 hex>in01", "name": "orders-rds-0",
        "engine": "MySQL", "version": "8.0.28", "data_volume_size": 100,   # GB
        "status": "ACTIVE", "vpc_name": "vpc-prod", "private_ip": "192.168.0.11",
        "ddm_instance_id": "<ddm id>" | null  # the DDM instance it is a data node of; null = free
      }],
      "jobs": [{
        "id": "<32 hex>", "name": "RestoreInstance",
        "instance_id": "<target ddm id>",     # the instance the job works on
        "created": -90,
        "status": "Running" | "Completed" | "Failed",     # optional, default Running
        "duration_seconds": 21600,            # Running jobs end at created + duration (null = job_seconds)
        "end_time": null,                     # for jobs already finished
        "outcome": "Completed", "fail_reason": null,      # how a Running job will end
        "source_instance_id": "<ddm id>" | null, "restore_time": <epoch ms> | null,
        "target_data_node_ids": ["<rds id>", ...]         # attached to the instance when it completes
      }]
    }

Times: a number is seconds relative to *now* (negative = in the past), a string is an absolute ISO-8601 time
(``2025-05-20T09:40:40+00:00`` or ``...Z``). Restorable windows given as offsets slide with the clock (backups
keep being taken, so the demo world never goes stale); other relative times are fixed when the world is loaded.

Consistency rules applied on load: an instance with a Running job on it shows status ``RESTORE``, and the job's
target data nodes are attached to it (status ``RESTORING``), as while a real restore runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


class WorldError(ValueError):
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
        return _plain_number(self.offset_seconds)


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


@dataclass
class World:
    ddm_instances: list[DdmInstance] = field(default_factory=list)
    rds_instances: list[RdsInstance] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)

    # ---- look-ups -------------------------------------------------------------------------------------------

    def ddm(self, instance_id: str) -> DdmInstance | None:
        return next((i for i in self.ddm_instances if i.id == instance_id), None)

    def rds(self, instance_id: str) -> RdsInstance | None:
        return next((i for i in self.rds_instances if i.id == instance_id), None)

    def job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def data_nodes_of(self, ddm_id: str) -> list[RdsInstance]:
        return [r for r in self.rds_instances if r.ddm_instance_id == ddm_id]

    def running_job_on(self, ddm_id: str) -> Job | None:
        return next((j for j in self.jobs if j.instance_id == ddm_id and j.status == JOB_RUNNING), None)

    # ---- time -----------------------------------------------------------------------------------------------

    def advance(self, now: datetime, default_job_seconds: float) -> list[Job]:
        """Finish every Running job that is due; returns the jobs that ended now."""
        ended: list[Job] = []
        for job in self.jobs:
            if job.status == JOB_RUNNING and now >= job.due(default_job_seconds):
                self.finish(job, job.due(default_job_seconds))
                ended.append(job)
        return ended

    def finish(self, job: Job, at: datetime) -> None:
        """End a restore job. Completed: the target keeps its new data nodes and is in service again.

        Failed: the target is released (back to RUNNING, data nodes detached) so a drill can retry it.
        """
        job.status = JOB_COMPLETED if job.outcome == JOB_COMPLETED else JOB_FAILED
        job.end_time = at
        if job.status == JOB_FAILED and not job.fail_reason:
            job.fail_reason = "Restoring data failed."
        target = self.ddm(job.instance_id)
        source = self.ddm(job.source_instance_id) if job.source_instance_id else None
        for dn_id in job.target_data_node_ids:
            node = self.rds(dn_id)
            if node is None:
                continue
            node.status = RDS_ACTIVE
            if job.status == JOB_FAILED and node.ddm_instance_id == job.instance_id:
                node.ddm_instance_id = None
        if target is not None:
            target.status = DDM_RUNNING
            target.updated = at
            if job.status == JOB_COMPLETED and source is not None:
                # The restored instance now carries the source's logical schemas and accounts.
                target.schemas = list(source.schemas)
                target.accounts = list(source.accounts)

    # ---- JSON -----------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The world in the load format (absolute times for everything but sliding windows)."""
        return {
            "ddm_instances": [_ddm_to_json(i) for i in self.ddm_instances],
            "rds_instances": [_rds_to_json(r) for r in self.rds_instances],
            "jobs": [_job_to_json(j) for j in self.jobs],
        }


# ---- JSON loading ---------------------------------------------------------------------------------------------


def load_world(path: str | Path, *, now: datetime | None = None) -> World:
    """Read a world JSON file (format: see the module docstring)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorldError(f"{path}: not valid JSON: {exc}") from None
    return world_from_json(data, now=now)


def world_from_json(data: object, *, now: datetime | None = None) -> World:
    now = now or utc_now()
    root = _obj(data, "world")
    _only(root, "world", {"ddm_instances", "rds_instances", "jobs"})
    world = World(
        ddm_instances=[
            _ddm_from_json(x, f"ddm_instances[{n}]", now) for n, x in enumerate(_list(root, "ddm_instances"))
        ],
        rds_instances=[_rds_from_json(x, f"rds_instances[{n}]") for n, x in enumerate(_list(root, "rds_instances"))],
        jobs=[_job_from_json(x, f"jobs[{n}]", now) for n, x in enumerate(_list(root, "jobs"))],
    )
    _check_references(world)
    _normalise(world)
    return world


def _check_references(world: World) -> None:
    for kind, ids in (
        ("ddm_instances", [i.id for i in world.ddm_instances]),
        ("rds_instances", [r.id for r in world.rds_instances]),
        ("jobs", [j.id for j in world.jobs]),
    ):
        seen: set[str] = set()
        for value in ids:
            if value in seen:
                raise WorldError(f"{kind}: duplicate id {value!r}")
            seen.add(value)
    ddm_ids = {i.id for i in world.ddm_instances}
    rds_ids = {r.id for r in world.rds_instances}
    for n, node in enumerate(world.rds_instances):
        if node.ddm_instance_id is not None and node.ddm_instance_id not in ddm_ids:
            raise WorldError(f"rds_instances[{n}].ddm_instance_id: unknown DDM instance {node.ddm_instance_id!r}")
    for n, job in enumerate(world.jobs):
        if job.instance_id not in ddm_ids:
            raise WorldError(f"jobs[{n}].instance_id: unknown DDM instance {job.instance_id!r}")
        if job.source_instance_id is not None and job.source_instance_id not in ddm_ids:
            raise WorldError(f"jobs[{n}].source_instance_id: unknown DDM instance {job.source_instance_id!r}")
        for dn in job.target_data_node_ids:
            if dn not in rds_ids:
                raise WorldError(f"jobs[{n}].target_data_node_ids: unknown RDS instance {dn!r}")
    busy = [j.instance_id for j in world.jobs if j.status == JOB_RUNNING]
    if len(set(busy)) != len(busy):
        raise WorldError("jobs: two Running jobs on the same instance")


def _normalise(world: World) -> None:
    # A running restore makes its target show RESTORE and holds its target data nodes, as the service does.
    for job in world.jobs:
        if job.status != JOB_RUNNING:
            continue
        target = world.ddm(job.instance_id)
        if target is not None:
            target.status = DDM_RESTORE
        for dn in job.target_data_node_ids:
            node = world.rds(dn)
            if node is not None:
                node.ddm_instance_id = job.instance_id
                node.status = RDS_RESTORING


def _ddm_from_json(data: object, where: str, now: datetime) -> DdmInstance:
    obj = _obj(data, where)
    _only(
        obj,
        where,
        {
            "id",
            "name",
            "status",
            "engine_version",
            "node_count",
            "vpc_id",
            "vpc_name",
            "available_zone",
            "created",
            "updated",
            "schemas",
            "accounts",
            "restorable_windows",
            "restore_outcome",
            "fail_reason",
        },
    )
    defaults = DdmInstance(id="", name="")
    created = _moment(obj.get("created", 0), f"{where}.created").resolve(now)
    windows = []
    for n, raw in enumerate(_list(obj, "restorable_windows", where)):
        w = _obj(raw, f"{where}.restorable_windows[{n}]")
        _only(w, f"{where}.restorable_windows[{n}]", {"start", "end"})
        start = _moment(_required(w, "start", f"{where}.restorable_windows[{n}]"), f"{where}...start")
        end = _moment(_required(w, "end", f"{where}.restorable_windows[{n}]"), f"{where}...end")
        if start.resolve(now) > end.resolve(now):
            raise WorldError(f"{where}.restorable_windows[{n}]: start is after end")
        windows.append(RestorableWindow(start=start, end=end))
    outcome = _str(obj, "restore_outcome", where, default=JOB_COMPLETED)
    if outcome not in (JOB_COMPLETED, JOB_FAILED):
        raise WorldError(f"{where}.restore_outcome: must be Completed or Failed")
    return DdmInstance(
        id=_str(obj, "id", where),
        name=_str(obj, "name", where),
        status=_str(obj, "status", where, default=defaults.status),
        engine_version=_str(obj, "engine_version", where, default=defaults.engine_version),
        node_count=_int(obj, "node_count", where, default=defaults.node_count),
        vpc_id=_str(obj, "vpc_id", where, default=defaults.vpc_id),
        vpc_name=_str(obj, "vpc_name", where, default=defaults.vpc_name),
        available_zone=_str(obj, "available_zone", where, default=defaults.available_zone),
        created=created,
        updated=_moment(obj["updated"], f"{where}.updated").resolve(now) if "updated" in obj else created,
        schemas=_str_list(obj, "schemas", where),
        accounts=_str_list(obj, "accounts", where),
        restorable_windows=windows,
        restore_outcome=outcome,
        fail_reason=_opt_str(obj, "fail_reason", where),
    )


def _rds_from_json(data: object, where: str) -> RdsInstance:
    obj = _obj(data, where)
    _only(
        obj,
        where,
        {"id", "name", "engine", "version", "data_volume_size", "status", "vpc_name", "private_ip", "ddm_instance_id"},
    )
    defaults = RdsInstance(id="", name="")
    return RdsInstance(
        id=_str(obj, "id", where),
        name=_str(obj, "name", where),
        engine=_str(obj, "engine", where, default=defaults.engine),
        version=_str(obj, "version", where, default=defaults.version),
        data_volume_size=_int(obj, "data_volume_size", where, default=defaults.data_volume_size),
        status=_str(obj, "status", where, default=defaults.status),
        vpc_name=_str(obj, "vpc_name", where, default=defaults.vpc_name),
        private_ip=_str(obj, "private_ip", where, default=defaults.private_ip),
        ddm_instance_id=_opt_str(obj, "ddm_instance_id", where),
    )


def _job_from_json(data: object, where: str, now: datetime) -> Job:
    obj = _obj(data, where)
    _only(
        obj,
        where,
        {
            "id",
            "name",
            "instance_id",
            "created",
            "status",
            "duration_seconds",
            "end_time",
            "outcome",
            "fail_reason",
            "source_instance_id",
            "restore_time",
            "target_data_node_ids",
        },
    )
    status = _str(obj, "status", where, default=JOB_RUNNING)
    outcome = _str(obj, "outcome", where, default=JOB_COMPLETED if status == JOB_RUNNING else status)
    if status not in JOB_STATUSES:
        raise WorldError(f"{where}.status: must be one of {', '.join(JOB_STATUSES)}")
    if outcome not in (JOB_COMPLETED, JOB_FAILED):
        raise WorldError(f"{where}.outcome: must be Completed or Failed")
    duration = obj.get("duration_seconds")
    if duration is not None and (not _is_number(duration) or duration < 0):
        raise WorldError(f"{where}.duration_seconds: must be a number >= 0 or null")
    end_raw = obj.get("end_time")
    restore_time = obj.get("restore_time")
    if restore_time is not None and (not isinstance(restore_time, int) or isinstance(restore_time, bool)):
        raise WorldError(f"{where}.restore_time: must be epoch milliseconds (an integer) or null")
    return Job(
        id=_str(obj, "id", where),
        name=_str(obj, "name", where, default=RESTORE_JOB_NAME),
        instance_id=_str(obj, "instance_id", where),
        created=_moment(obj.get("created", 0), f"{where}.created").resolve(now),
        status=status,
        duration_seconds=float(duration) if duration is not None else None,
        end_time=_moment(end_raw, f"{where}.end_time").resolve(now) if end_raw is not None else None,
        outcome=outcome,
        fail_reason=_opt_str(obj, "fail_reason", where),
        source_instance_id=_opt_str(obj, "source_instance_id", where),
        restore_time=restore_time,
        target_data_node_ids=_str_list(obj, "target_data_node_ids", where),
    )


def _ddm_to_json(i: DdmInstance) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "engine_version": i.engine_version,
        "node_count": i.node_count,
        "vpc_id": i.vpc_id,
        "vpc_name": i.vpc_name,
        "available_zone": i.available_zone,
        "created": i.created.isoformat(),
        "updated": i.updated.isoformat(),
        "schemas": list(i.schemas),
        "accounts": list(i.accounts),
        "restorable_windows": [{"start": w.start.to_json(), "end": w.end.to_json()} for w in i.restorable_windows],
        "restore_outcome": i.restore_outcome,
        "fail_reason": i.fail_reason,
    }


def _rds_to_json(r: RdsInstance) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "engine": r.engine,
        "version": r.version,
        "data_volume_size": r.data_volume_size,
        "status": r.status,
        "vpc_name": r.vpc_name,
        "private_ip": r.private_ip,
        "ddm_instance_id": r.ddm_instance_id,
    }


def _job_to_json(j: Job) -> dict[str, Any]:
    return {
        "id": j.id,
        "name": j.name,
        "instance_id": j.instance_id,
        "created": j.created.isoformat(),
        "status": j.status,
        "duration_seconds": j.duration_seconds,
        "end_time": j.end_time.isoformat() if j.end_time else None,
        "outcome": j.outcome,
        "fail_reason": j.fail_reason,
        "source_instance_id": j.source_instance_id,
        "restore_time": j.restore_time,
        "target_data_node_ids": list(j.target_data_node_ids),
    }


# ---- small typed readers (json gives Any; these turn it into checked values with a useful error) -----------


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WorldError(f"{where}: must be a JSON object")
    return value


def _only(obj: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    # Unknown keys are refused: a typo in a drill world should fail loudly, not be ignored.
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise WorldError(f"{where}: unknown field(s) {', '.join(unknown)}")


def _required(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise WorldError(f"{where}.{key}: missing")
    return obj[key]


def _list(obj: Mapping[str, Any], key: str, where: str = "world") -> Sequence[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise WorldError(f"{where}.{key}: must be a list")
    return value


_MISSING: Any = object()


def _str(obj: Mapping[str, Any], key: str, where: str, default: str = _MISSING) -> str:
    if key not in obj:
        if default is _MISSING:
            raise WorldError(f"{where}.{key}: missing")
        return default
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise WorldError(f"{where}.{key}: must be a non-empty string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise WorldError(f"{where}.{key}: must be a string or null")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WorldError(f"{where}.{key}: must be an integer >= 0")
    return value


def _str_list(obj: Mapping[str, Any], key: str, where: str) -> list[str]:
    values = _list(obj, key, where)
    if not all(isinstance(v, str) for v in values):
        raise WorldError(f"{where}.{key}: must be a list of strings")
    return list(values)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _moment(value: object, where: str) -> Moment:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Moment(offset_seconds=float(value))
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise WorldError(f"{where}: {value!r} is not an ISO-8601 time") from None
        if parsed.tzinfo is None:
            raise WorldError(f"{where}: {value!r} needs a time zone")
        return Moment(absolute=parsed.astimezone(UTC))
    raise WorldError(f"{where}: must be seconds relative to now (a number) or an ISO-8601 time (a string)")


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


# ---- the built-in demo world ----------------------------------------------------------------------------------

# Fixed ids so docs, tests and demos can name them. orders-prod's first data node and orders-restore-1 reuse the
# ids of the seed page's example request; orders-prod's id is the one in the signer test vectors.
ORDERS_PROD_ID = "5f1e2d3c4b5a49687f6e5d4c3b2a1f00in09"
USERS_PROD_ID = "7c9e6679f4254b3a9c2d1e0f8a7b6c5din09"
ORDERS_RESTORE_1_ID = "2f0324a93859487eb5566d75951fcd2din09"
ORDERS_RESTORE_2_ID = "8d3f5e7a9b1c4d2e8f6a0b3c5d7e9f1ain09"
LEGACY_DDM_ID = "c4a1e9b27d3f4e8a9b0c1d2e3f4a5b6cin09"

ORDERS_RDS_0_ID = "f4e2949e9b9b4d60b42c89ed39bfe34cin01"
ORDERS_RDS_1_ID = "a3c6e8f0b2d44e6a8c0e2f4a6b8d0f2ein01"
USERS_RDS_IDS = (
    "b10c2d3e4f5a4b6c8d9e0f1a2b3c4d50in01",
    "b10c2d3e4f5a4b6c8d9e0f1a2b3c4d51in01",
    "b10c2d3e4f5a4b6c8d9e0f1a2b3c4d52in01",
)
# Free RDS instances usable as restore targets: 0, 1 and 3 fit both sources; 2 is too small, 4 is too old.
RESTORE_RDS_IDS = (
    "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b50in01",
    "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b51in01",
    "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b52in01",
    "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b53in01",
    "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b54in01",
)
BUSY_RDS_IDS = ("d7e8f9a0b1c24d3e9f4a5b6c7d8e9f00in01", "d7e8f9a0b1c24d3e9f4a5b6c7d8e9f01in01")
LEGACY_RDS_ID = "9a8b7c6d5e4f4a3b9c2d1e0f9a8b7c6din01"
BUSY_JOB_ID = "3b8e1c5a7d9f4e2b8c6a0d4f2e8b1c7a"
HISTORY_JOB_ID = "6e5d4c3b2a1948f7a6e5d4c3b2a19f8e"

DAY = 86_400


def demo_world_json() -> dict[str, Any]:
    """The demo world in the JSON format (``example_world.json`` holds exactly this)."""

    def ddm(id_: str, name: str, *, created_days: int, **extra: Any) -> dict[str, Any]:
        return {"id": id_, "name": name, "created": -created_days * DAY, **extra}

    def rds(id_: str, name: str, ip: str, size: int, owner: str | None, version: str = "8.0.28") -> dict[str, Any]:
        return {
            "id": id_,
            "name": name,
            "engine": "MySQL",
            "version": version,
            "data_volume_size": size,
            "status": "ACTIVE",
            "vpc_name": "vpc-prod",
            "private_ip": ip,
            "ddm_instance_id": owner,
        }

    week_window = [{"start": -7 * DAY, "end": -300}]
    return {
        "ddm_instances": [
            ddm(
                ORDERS_PROD_ID,
                "orders-prod",
                created_days=400,
                schemas=["orders", "payments"],
                accounts=["orders_app"],
                restorable_windows=week_window,
            ),
            ddm(
                USERS_PROD_ID,
                "users-prod",
                created_days=300,
                schemas=["users"],
                accounts=["users_app"],
                restorable_windows=[{"start": -3 * DAY, "end": -300}],
            ),
            ddm(ORDERS_RESTORE_1_ID, "orders-restore-1", created_days=2),
            ddm(ORDERS_RESTORE_2_ID, "orders-restore-2", created_days=1),
            ddm(
                LEGACY_DDM_ID,
                "legacy-ddm",
                created_days=900,
                engine_version="3.0.8",
                schemas=["legacy"],
                accounts=["legacy_app"],
            ),
        ],
        "rds_instances": [
            rds(ORDERS_RDS_0_ID, "orders-rds-0", "192.168.0.11", 100, ORDERS_PROD_ID),
            rds(ORDERS_RDS_1_ID, "orders-rds-1", "192.168.0.12", 100, ORDERS_PROD_ID),
            *(
                rds(id_, f"users-rds-{n}", f"192.168.0.{21 + n}", 50, USERS_PROD_ID)
                for n, id_ in enumerate(USERS_RDS_IDS)
            ),
            rds(RESTORE_RDS_IDS[0], "restore-rds-0", "192.168.0.31", 100, None),
            rds(RESTORE_RDS_IDS[1], "restore-rds-1", "192.168.0.32", 200, None, version="8.0.32"),
            rds(RESTORE_RDS_IDS[2], "restore-rds-2", "192.168.0.33", 40, None),
            rds(RESTORE_RDS_IDS[3], "restore-rds-3", "192.168.0.34", 500, None),
            rds(RESTORE_RDS_IDS[4], "restore-rds-4", "192.168.0.35", 200, None, version="5.7.44"),
            rds(BUSY_RDS_IDS[0], "orders-restore-2-rds-0", "192.168.0.41", 100, None),
            rds(BUSY_RDS_IDS[1], "orders-restore-2-rds-1", "192.168.0.42", 100, None),
            rds(LEGACY_RDS_ID, "legacy-rds-0", "192.168.0.51", 200, LEGACY_DDM_ID, version="5.7.44"),
        ],
        "jobs": [
            {
                # The restore keeping orders-restore-2 busy: long enough to outlast any demo.
                "id": BUSY_JOB_ID,
                "name": RESTORE_JOB_NAME,
                "instance_id": ORDERS_RESTORE_2_ID,
                "created": -7200,
                "status": JOB_RUNNING,
                "duration_seconds": 6 * 3600,
                "end_time": None,
                "outcome": JOB_COMPLETED,
                "fail_reason": None,
                "source_instance_id": ORDERS_PROD_ID,
                "restore_time": None,
                "target_data_node_ids": list(BUSY_RDS_IDS),
            },
            {
                # History: the restore that gave legacy-ddm its data two days ago.
                "id": HISTORY_JOB_ID,
                "name": RESTORE_JOB_NAME,
                "instance_id": LEGACY_DDM_ID,
                "created": -2 * DAY,
                "status": JOB_COMPLETED,
                "duration_seconds": 150,
                "end_time": -2 * DAY + 150,
                "outcome": JOB_COMPLETED,
                "fail_reason": None,
                "source_instance_id": None,
                "restore_time": None,
                "target_data_node_ids": [LEGACY_RDS_ID],
            },
        ],
    }


def demo_world(*, now: datetime | None = None) -> World:
    """The built-in demo world: two sources, one free target, one busy target, one unsuitable target."""
    return world_from_json(demo_world_json(), now=now)
