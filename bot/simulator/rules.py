"""The DDM restore rules, without HTTP: who may be a target, what a valid restore body is, starting a restore.

Error codes follow the DDM error-code table (``DBS.280001`` parameter error, ``DBS.300372`` invalid destination
DDM instance, ``DBS.300323`` associated RDS unavailable, ``DBS.300356`` cannot connect to RDS, ``DBS.300364``
disk-space check failed). Validation order: the body's shape, the source and the restore point, the relations'
shape, then the target DDM instance, then each target data node; the first problem found is the answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.simulator.world import (
    DDM_RESTORE,
    DDM_RUNNING,
    JOB_RUNNING,
    RDS_ACTIVE,
    RDS_RESTORING,
    RESTORE_JOB_NAME,
    DdmInstance,
    Job,
    RdsInstance,
    World,
    epoch_ms,
)

PARAMETER_ERROR = "DBS.280001"
INVALID_TARGET = "DBS.300372"
RDS_UNAVAILABLE = "DBS.300323"
RDS_UNREACHABLE = "DBS.300356"
DISK_CHECK_FAILED = "DBS.300364"
JOB_NOT_FOUND = "DBS.300400"
SERVER_FAILURE = "DBS.200412"

REASON_BEING_RESTORED = "The instance is being restored."
REASON_HAS_DATA_NODES = "The instance already has associated data nodes."
REASON_HAS_SCHEMAS = "The instance already has schemas."
REASON_HAS_ACCOUNTS = "The instance already has accounts."


class ApiError(Exception):
    """A V3 DDM error answer: ``{"error_code", "error_msg"}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def parameter_error() -> ApiError:
    # The service says only this for every malformed or out-of-range input (see the seed page's example).
    return ApiError(400, PARAMETER_ERROR, "Parameter error.")


# ---- restore windows ------------------------------------------------------------------------------------------


def windows_of(instance: DdmInstance, now: datetime) -> list[tuple[datetime, datetime]]:
    return [w.resolve(now) for w in instance.restorable_windows]


def in_window(instance: DdmInstance, restore_ms: int, now: datetime) -> bool:
    return any(epoch_ms(start) <= restore_ms <= epoch_ms(end) for start, end in windows_of(instance, now))


def latest_restorable_ms(instance: DdmInstance, now: datetime) -> int | None:
    ends = [epoch_ms(end) for _, end in windows_of(instance, now)]
    return max(ends) if ends else None


# ---- target DDM instances -------------------------------------------------------------------------------------


def target_ddm_problem(world: World, target: DdmInstance) -> str | None:
    """Why ``target`` cannot receive a restore now (None: it can). The target must be new and idle."""
    if world.running_job_on(target.id) is not None or target.status == DDM_RESTORE:
        return REASON_BEING_RESTORED
    if target.status != DDM_RUNNING:
        return f"The instance status is {target.status}."
    if world.data_nodes_of(target.id):
        return REASON_HAS_DATA_NODES
    if target.schemas:
        return REASON_HAS_SCHEMAS
    if target.accounts:
        return REASON_HAS_ACCOUNTS
    return None


# ---- target data nodes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DnProblem:
    code: str
    reason: str


def _version_key(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def target_dn_problem(source_dn: RdsInstance, node: RdsInstance, target: DdmInstance | None) -> DnProblem | None:
    """Why ``node`` cannot take ``source_dn``'s data (None: it can). Rules from the DDM user guide."""
    if node.ddm_instance_id is not None:
        return DnProblem(RDS_UNAVAILABLE, "The instance is already associated with a DDM instance.")
    if node.status != RDS_ACTIVE:
        return DnProblem(RDS_UNAVAILABLE, f"The instance status is {node.status}.")
    if node.engine.lower() != source_dn.engine.lower():
        return DnProblem(RDS_UNAVAILABLE, f"The engine {node.engine} differs from the source's {source_dn.engine}.")
    if _version_key(node.version) < _version_key(source_dn.version):
        return DnProblem(
            RDS_UNAVAILABLE,
            f"The version {node.version} is earlier than the source's {source_dn.version}.",
        )
    if target is not None and node.vpc_name != target.vpc_name:
        return DnProblem(RDS_UNREACHABLE, "The instance is not in the same VPC as the destination DDM instance.")
    if node.data_volume_size < source_dn.data_volume_size:
        return DnProblem(
            DISK_CHECK_FAILED,
            f"The storage ({node.data_volume_size} GB) is smaller than the source's ({source_dn.data_volume_size} GB).",
        )
    return None


def free_data_nodes(world: World) -> list[RdsInstance]:
    """RDS instances not associated with any DDM instance: the only possible restore targets."""
    return [r for r in world.rds_instances if r.ddm_instance_id is None]


# ---- the restore ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreBody:
    restore_time: int
    target_id: str
    relations: list[tuple[str, str]]


def parse_restore_body(data: Any) -> RestoreBody:
    """Check the body's shape and types exactly (the SDK's model: every field mandatory, numbers as numbers)."""
    if not isinstance(data, dict):
        raise parameter_error()
    source, target, relations = data.get("source"), data.get("target"), data.get("data_node_relations")
    if not isinstance(source, dict) or not isinstance(target, dict) or not isinstance(relations, list):
        raise parameter_error()
    restore_time = source.get("restore_time")
    if not isinstance(restore_time, int) or isinstance(restore_time, bool) or restore_time <= 0:
        raise parameter_error()
    target_id = target.get("instance_id")
    if not isinstance(target_id, str) or not target_id:
        raise parameter_error()
    if not relations:
        raise parameter_error()
    pairs: list[tuple[str, str]] = []
    for item in relations:
        if not isinstance(item, dict):
            raise parameter_error()
        src, dst = item.get("source_instance_id"), item.get("target_instance_id")
        if not isinstance(src, str) or not src or not isinstance(dst, str) or not dst:
            raise parameter_error()
        pairs.append((src, dst))
    return RestoreBody(restore_time=restore_time, target_id=target_id, relations=pairs)


def new_job_id() -> str:
    return secrets.token_hex(16)


def start_restore(world: World, source_id: str, data: Any, now: datetime) -> Job:
    """Validate a recovery request like the service and, if valid, start the restore job.

    How the job will end is fixed now, from the target's ``restore_outcome`` (changing it later affects the
    next restore only).
    """
    body = parse_restore_body(data)
    source = world.ddm(source_id)
    if source is None:
        raise parameter_error()
    if not in_window(source, body.restore_time, now):
        raise parameter_error()
    source_dns = {dn.id: dn for dn in world.data_nodes_of(source.id)}
    relation_sources = [s for s, _ in body.relations]
    relation_targets = [t for _, t in body.relations]
    if len(set(relation_sources)) != len(relation_sources) or set(relation_sources) != set(source_dns):
        raise parameter_error()
    if len(set(relation_targets)) != len(relation_targets):
        raise parameter_error()

    if body.target_id == source.id:
        raise ApiError(400, INVALID_TARGET, "Invalid destination DDM instance.")
    target = world.ddm(body.target_id)
    if target is None:
        raise ApiError(400, INVALID_TARGET, "Invalid destination DDM instance.")
    problem = target_ddm_problem(world, target)
    if problem == REASON_BEING_RESTORED:
        raise ApiError(400, INVALID_TARGET, "Invalid destination DDM instance. The instance is being restored.")
    if problem is not None:
        raise ApiError(400, INVALID_TARGET, f"Invalid destination DDM instance. {problem}")

    nodes: list[RdsInstance] = []
    for src, dst in body.relations:
        node = world.rds(dst)
        if node is None:
            raise ApiError(400, RDS_UNAVAILABLE, "The associated RDS instance is unavailable.")
        dn_problem = target_dn_problem(source_dns[src], node, target)
        if dn_problem is not None:
            raise ApiError(400, dn_problem.code, _DN_MESSAGES[dn_problem.code])
        nodes.append(node)

    job = Job(
        id=new_job_id(),
        name=RESTORE_JOB_NAME,
        instance_id=target.id,
        created=now,
        status=JOB_RUNNING,
        outcome=target.restore_outcome,
        fail_reason=target.fail_reason if target.restore_outcome != "Completed" else None,
        source_instance_id=source.id,
        restore_time=body.restore_time,
        target_data_node_ids=[n.id for n in nodes],
    )
    # While it runs the target shows RESTORE and holds its new data nodes, so nobody else can pick them.
    target.status = DDM_RESTORE
    target.updated = now
    for node in nodes:
        node.ddm_instance_id = target.id
        node.status = RDS_RESTORING
    world.jobs.append(job)
    return job


_DN_MESSAGES = {
    RDS_UNAVAILABLE: "The associated RDS instance is unavailable.",
    RDS_UNREACHABLE: "Failed to connect to the RDS instance.",
    DISK_CHECK_FAILED: "Disk space check failed. The destination RDS instance has less storage than the source.",
}
