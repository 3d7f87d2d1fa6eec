"""The simulated cloud as a whole: the World (look-ups, job progress), loading it from JSON, the demo world.

The things in it are in ``model.py``, the JSON codec (pydantic) in ``world_json.py``, the demo ids in ``demo.py``.
World JSON format (``example_world.json`` is exactly :func:`demo_world`; errors name the bad field)::

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
        "fail_reason": null,                  #   ("Failed" + a reason to drill failures)
        "after_restore": "RUNNING",           # optional: the status it settles in after a completed restore
                                              #   (e.g. "ABNORMAL": it stays abnormal, to drill verification)
        "access_ip": null, "access_port": null  # optional: where it speaks MySQL (default: made up from the id)
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

After a completed restore the target keeps showing ``RESTORE`` for the server's ``settle_seconds``, then shows
its ``after_restore`` status (``RUNNING`` unless a drill says otherwise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.simulator.demo import (
    BUSY_JOB_ID,
    BUSY_RDS_IDS,
    DAY,
    FREE_TARGET_IDS,
    HISTORY_JOB_ID,
    LEGACY_DDM_ID,
    LEGACY_RDS_ID,
    ORDERS_PROD_ID,
    ORDERS_RDS_0_ID,
    ORDERS_RDS_1_ID,
    ORDERS_RESTORE_1_ID,
    ORDERS_RESTORE_2_ID,
    ORDERS_RESTORE_3_ID,
    ORDERS_RESTORE_4_ID,
    RESTORE_RDS_IDS,
    USERS_PROD_ID,
    USERS_RDS_IDS,
    demo_world_json,
)
from bot.simulator.model import (
    API_TIME_FORMAT,
    DDM_RESTORE,
    DDM_RUNNING,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_RUNNING,
    JOB_STATUSES,
    RDS_ACTIVE,
    RDS_RESTORING,
    RESTORE_JOB_NAME,
    DdmInstance,
    Job,
    Moment,
    RdsInstance,
    RestorableWindow,
    WorldError,
    epoch_ms,
    format_api_time,
    from_epoch_ms,
    utc_now,
)
from bot.simulator.world_json import DdmJson, JobJson, RdsJson, WorldJson

__all__ = [
    "API_TIME_FORMAT",
    "BUSY_JOB_ID",
    "BUSY_RDS_IDS",
    "DAY",
    "DDM_RESTORE",
    "DDM_RUNNING",
    "FREE_TARGET_IDS",
    "HISTORY_JOB_ID",
    "JOB_COMPLETED",
    "JOB_FAILED",
    "JOB_RUNNING",
    "JOB_STATUSES",
    "LEGACY_DDM_ID",
    "LEGACY_RDS_ID",
    "ORDERS_PROD_ID",
    "ORDERS_RDS_0_ID",
    "ORDERS_RDS_1_ID",
    "ORDERS_RESTORE_1_ID",
    "ORDERS_RESTORE_2_ID",
    "ORDERS_RESTORE_3_ID",
    "ORDERS_RESTORE_4_ID",
    "RDS_ACTIVE",
    "RDS_RESTORING",
    "RESTORE_JOB_NAME",
    "RESTORE_RDS_IDS",
    "USERS_PROD_ID",
    "USERS_RDS_IDS",
    "DdmInstance",
    "Job",
    "Moment",
    "RdsInstance",
    "RestorableWindow",
    "World",
    "WorldError",
    "demo_world",
    "demo_world_json",
    "epoch_ms",
    "format_api_time",
    "from_epoch_ms",
    "load_world",
    "utc_now",
    "world_from_json",
]


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

    def advance(self, now: datetime, default_job_seconds: float, settle_seconds: float = 0.0) -> list[Job]:
        """Finish every Running job that is due, and settle the targets whose time came; returns the jobs that
        ended now."""
        ended: list[Job] = []
        for job in self.jobs:
            if job.status == JOB_RUNNING and now >= job.due(default_job_seconds):
                self.finish(job, job.due(default_job_seconds), settle_seconds)
                ended.append(job)
        for instance in self.ddm_instances:
            if instance.settles_at is not None and now >= instance.settles_at:
                instance.status, instance.updated, instance.settles_at = (
                    instance.after_restore,
                    instance.settles_at,
                    None,
                )
        return ended

    def finish(self, job: Job, at: datetime, settle_seconds: float = 0.0) -> None:
        """End a restore job. Completed: the target keeps its new data nodes and shows RESTORE for
        `settle_seconds` more, then its `after_restore` status (RUNNING: in service again).

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
            target.updated = at
            if job.status == JOB_COMPLETED:
                target.status, target.settles_at = DDM_RESTORE, at + timedelta(seconds=settle_seconds)
            else:
                target.status = DDM_RUNNING
            if job.status == JOB_COMPLETED and source is not None:
                # The restored instance now carries the source's logical schemas and accounts.
                target.schemas = list(source.schemas)
                target.accounts = list(source.accounts)

    # ---- JSON -----------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The world in the load format (absolute times for everything but sliding windows)."""
        return WorldJson(
            ddm_instances=[DdmJson.of(i) for i in self.ddm_instances],
            rds_instances=[RdsJson.of(r) for r in self.rds_instances],
            jobs=[JobJson.of(j) for j in self.jobs],
        ).to_json()


def load_world(path: str | Path, *, now: datetime | None = None) -> World:
    """Read a world JSON file (format: see the module docstring)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorldError(f"{path}: cannot be read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorldError(f"{path}: not valid JSON: {exc}") from None
    try:
        return world_from_json(data, now=now)
    except WorldError as exc:
        raise WorldError(f"{path}: {exc}") from None


def world_from_json(data: object, *, now: datetime | None = None) -> World:
    now = now or utc_now()
    parsed = WorldJson.parse(data)
    world = World(
        ddm_instances=[d.to_instance(now, f"ddm_instances[{n}]") for n, d in enumerate(parsed.ddm_instances)],
        rds_instances=[r.to_instance() for r in parsed.rds_instances],
        jobs=[j.to_job(now) for j in parsed.jobs],
    )
    _check_references(world)
    _normalise(world)
    return world


def demo_world(*, now: datetime | None = None) -> World:
    """The built-in demo world (see ``demo.py``)."""
    return world_from_json(demo_world_json(), now=now)


def _check_references(world: World) -> None:
    for kind, ids in (
        ("ddm_instances", [i.id for i in world.ddm_instances]),
        ("rds_instances", [r.id for r in world.rds_instances]),
        ("jobs", [j.id for j in world.jobs]),
    ):
        seen: set[str] = set()
        for n, value in enumerate(ids):
            if value in seen:
                raise WorldError(f"{kind}[{n}].id: duplicate id {value!r}")
            seen.add(value)
    ddm_ids = {i.id for i in world.ddm_instances}
    rds_ids = {r.id for r in world.rds_instances}
    for n, node in enumerate(world.rds_instances):
        if node.ddm_instance_id is not None and node.ddm_instance_id not in ddm_ids:
            raise WorldError(f"rds_instances[{n}].ddm_instance_id: unknown DDM instance {node.ddm_instance_id!r}")
    running: set[str] = set()
    for n, job in enumerate(world.jobs):
        if job.instance_id not in ddm_ids:
            raise WorldError(f"jobs[{n}].instance_id: unknown DDM instance {job.instance_id!r}")
        if job.source_instance_id is not None and job.source_instance_id not in ddm_ids:
            raise WorldError(f"jobs[{n}].source_instance_id: unknown DDM instance {job.source_instance_id!r}")
        for dn in job.target_data_node_ids:
            if dn not in rds_ids:
                raise WorldError(f"jobs[{n}].target_data_node_ids: unknown RDS instance {dn!r}")
        if job.status == JOB_RUNNING:
            if job.instance_id in running:
                raise WorldError(f"jobs[{n}].instance_id: a second Running job on {job.instance_id!r}")
            running.add(job.instance_id)


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
