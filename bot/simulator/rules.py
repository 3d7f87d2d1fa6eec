"""The DDM restore rules, without HTTP: who may be a target, what a valid restore body is, starting a restore.

Error codes follow the DDM error-code table (``DBS.280001`` parameter error, ``DBS.300372`` invalid destination
DDM instance, ``DBS.300323`` associated RDS unavailable, ``DBS.300356`` cannot connect to RDS, ``DBS.300364``
disk-space check failed). Validation order: the body's shape, the source and the restore point, the relations'
shape, then the target DDM instance, then each target data node; the first problem found is the answer.

The codes are DDM's; the messages go further than DDM's bare "Parameter error." and name the parameter and the
value that is wrong (``Parameter error: target.instance_id is missing``), because people learn the API here.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import PersonError
from bot.simulator.model import (
    DDM_RESTORE,
    DDM_RUNNING,
    JOB_RUNNING,
    RDS_ACTIVE,
    RDS_RESTORING,
    RESTORE_JOB_NAME,
    DdmInstance,
    Job,
    RdsInstance,
    epoch_ms,
    format_api_time,
)
from bot.simulator.world import World

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


class ApiError(PersonError):
    """A DDM error answer with an HTTP status: V3 ``{"error_code", "error_msg"}``, V1 ``{"errCode",
    "externalMessage"}`` (the gateway answers in the style of the call's version)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def parameter_error(detail: str) -> ApiError:
    """DDM's ``DBS.280001`` (the seed page's "Parameter error."), saying which parameter is wrong and how."""
    return ApiError(400, PARAMETER_ERROR, f"Parameter error: {detail}")


def invalid_target(detail: str) -> ApiError:
    return ApiError(400, INVALID_TARGET, f"Invalid destination DDM instance. {detail}")


def unknown_source(instance_id: str) -> ApiError:
    # The source is the path's instance: a parameter, so DBS.280001 (unverified what DDM itself answers).
    return parameter_error(f"instance_id {instance_id!r} is not a DDM instance of this project")


def job_not_found(job_id: str) -> ApiError:
    return ApiError(400, JOB_NOT_FOUND, f"The task does not exist: no job {job_id!r} in this project.")


# ---- restore windows ------------------------------------------------------------------------------------------


def windows_of(instance: DdmInstance, now: datetime) -> list[tuple[datetime, datetime]]:
    return [w.resolve(now) for w in instance.restorable_windows]


def in_window(instance: DdmInstance, restore_ms: int, now: datetime) -> bool:
    return any(epoch_ms(start) <= restore_ms <= epoch_ms(end) for start, end in windows_of(instance, now))


def check_restore_time(instance: DdmInstance, restore_ms: int, now: datetime, name: str = "restore_time") -> None:
    """DBS.280001 naming the value and the windows when ``restore_ms`` is outside every restorable window."""
    if in_window(instance, restore_ms, now):
        return
    windows = windows_of(instance, now)
    if not windows:
        raise parameter_error(f"{name} {restore_ms}: instance {instance.id} has no restorable backups")
    spans = ", ".join(
        f"{format_api_time(a)} ({epoch_ms(a)}) to {format_api_time(b)} ({epoch_ms(b)})" for a, b in windows
    )
    raise parameter_error(f"{name} {restore_ms} is outside the restorable window of instance {instance.id}: {spans}")


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
        raise parameter_error("the body must be a JSON object")
    for key, kind, word in (
        ("source", dict, "an object"),
        ("target", dict, "an object"),
        ("data_node_relations", list, "a list"),
    ):
        if key not in data:
            raise parameter_error(f"{key} is missing")
        if not isinstance(data[key], kind):
            raise parameter_error(f"{key} must be {word}")
    source, target, relations = data["source"], data["target"], data["data_node_relations"]
    restore_time = source.get("restore_time")
    if restore_time is None:
        raise parameter_error("source.restore_time is missing")
    if not isinstance(restore_time, int) or isinstance(restore_time, bool) or restore_time <= 0:
        raise parameter_error(
            f"source.restore_time must be epoch milliseconds as a JSON number, not {json.dumps(restore_time)}"
        )
    target_id = target.get("instance_id")
    if target_id is None:
        raise parameter_error("target.instance_id is missing")
    if not isinstance(target_id, str) or not target_id:
        raise parameter_error(f"target.instance_id must be a non-empty string, not {json.dumps(target_id)}")
    if not relations:
        raise parameter_error("data_node_relations is empty: map each source data node to a target one")
    pairs: list[tuple[str, str]] = []
    for n, item in enumerate(relations):
        where = f"data_node_relations[{n}]"
        if not isinstance(item, dict):
            raise parameter_error(f"{where} must be an object")
        ids = []
        for key in ("source_instance_id", "target_instance_id"):
            value = item.get(key)
            if value is None:
                raise parameter_error(f"{where}.{key} is missing")
            if not isinstance(value, str) or not value:
                raise parameter_error(f"{where}.{key} must be a non-empty string, not {json.dumps(value)}")
            ids.append(value)
        pairs.append((ids[0], ids[1]))
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
        raise unknown_source(source_id)
    check_restore_time(source, body.restore_time, now, "source.restore_time")
    _check_relations(world, source, body.relations)

    if body.target_id == source.id:
        raise invalid_target(f"target.instance_id {body.target_id} is the source instance itself.")
    target = world.ddm(body.target_id)
    if target is None:
        raise invalid_target(f"target.instance_id {body.target_id!r} is not a DDM instance of this project.")
    problem = target_ddm_problem(world, target)
    if problem is not None:
        raise invalid_target(f"{target.name} ({target.id}): {problem}")

    source_dns = {dn.id: dn for dn in world.data_nodes_of(source.id)}
    nodes: list[RdsInstance] = []
    for n, (src, dst) in enumerate(body.relations):
        where = f"data_node_relations[{n}].target_instance_id"
        node = world.rds(dst)
        if node is None:
            raise ApiError(400, RDS_UNAVAILABLE, f"{_DN_MESSAGES[RDS_UNAVAILABLE]} {where} {dst!r} does not exist.")
        dn_problem = target_dn_problem(source_dns[src], node, target)
        if dn_problem is not None:
            detail = f"{where} {node.name} ({node.id}): {dn_problem.reason}"
            raise ApiError(400, dn_problem.code, f"{_DN_MESSAGES[dn_problem.code]} {detail}")
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


def _check_relations(world: World, source: DdmInstance, relations: list[tuple[str, str]]) -> None:
    """Every source data node mapped exactly once, to distinct targets (DBS.280001 naming the relation)."""
    source_dns = {dn.id for dn in world.data_nodes_of(source.id)}
    seen_sources: dict[str, int] = {}
    seen_targets: dict[str, int] = {}
    for n, (src, dst) in enumerate(relations):
        where = f"data_node_relations[{n}]"
        if src not in source_dns:
            raise parameter_error(f"{where}.source_instance_id {src!r} is not a data node of instance {source.id}")
        if src in seen_sources:
            raise parameter_error(
                f"{where}.source_instance_id {src!r} is already mapped in relation {seen_sources[src]}"
            )
        if dst in seen_targets:
            raise parameter_error(f"{where}.target_instance_id {dst!r} is already used in relation {seen_targets[dst]}")
        seen_sources[src] = n
        seen_targets[dst] = n
    missing = sorted(source_dns - set(seen_sources))
    if missing:
        raise parameter_error(f"data_node_relations has no relation for source data node(s) {', '.join(missing)}")


_DN_MESSAGES = {
    RDS_UNAVAILABLE: "The associated RDS instance is unavailable.",
    RDS_UNREACHABLE: "Failed to connect to the RDS instance.",
    DISK_CHECK_FAILED: "Disk space check failed. The destination RDS instance has less storage than the source.",
}
