"""The DDM API (the restore family): instances, windows, candidates, data nodes, the restore, jobs.

Answers follow the reference's field names. Unset strings on jobs are ``""``, as DDM writes them: ``end_time``
while a job runs, ``process`` once it has ended, ``fail_reason`` unless it failed. Bad input gets DDM's code with
a message naming the parameter (see ``rules.py``). Choices where the real behaviour is unverified:

- an unknown job id gets 400 ``DBS.300400`` (the DDM error table's "task not found");
- an unknown source instance in a path gets 400 ``DBS.280001``;
- paging: ``offset`` >= 0, ``limit`` 1..128 (default 128), else 400 ``DBS.280001``;
- the job list needs both ``start_time`` and ``end_time`` (epoch ms), ``start_time`` at most 30 days back
  (plus 5 minutes of grace for clock drift); jobs whose created time is in the range, newest first, each with
  the instance flattened into ``instance_id``/``instance_name``; the job detail has ``instance: {id, name}``;
- the V1 calls after a restore (instance details, its logical schemas) answer errors as
  ``{"errCode","externalMessage"}``; an unknown instance gets 400 ``DBS.280001``; each schema of an instance
  uses every data node of it (``used_rds``), as a sharded schema spread over all of them does.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.simulator.model import JOB_FAILED, DdmInstance, Job, epoch_ms, format_api_time, from_epoch_ms
from bot.simulator.rules import (
    check_restore_time,
    free_data_nodes,
    job_not_found,
    latest_restorable_ms,
    parameter_error,
    start_restore,
    target_ddm_problem,
    target_dn_problem,
    unknown_source,
    windows_of,
)
from bot.simulator.state import SimulatorState, json_answer, state_of
from bot.simulator.world import World

log = logging.getLogger(__name__)

MAX_PAGE = 128
JOB_LIST_MAX_AGE = timedelta(days=30)
JOB_LIST_GRACE = timedelta(minutes=5)  # clock drift between a client and the service


def _world(request: web.Request) -> World:
    """The world of the project in the path (the gateway let only a served project through)."""
    return state_of(request).world_of(request.match_info["project_id"])


# ---- query parsing --------------------------------------------------------------------------------------------


def _int_param(request: web.Request, name: str, *, default: int | None = None, what: str = "an integer") -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise parameter_error(f"{name} is missing")
        return default
    try:
        return int(raw)
    except ValueError:
        raise parameter_error(f"{name} must be {what}, not {raw!r}") from None


def _paging(request: web.Request) -> tuple[int, int]:
    offset = _int_param(request, "offset", default=0)
    limit = _int_param(request, "limit", default=MAX_PAGE)
    if offset < 0:
        raise parameter_error(f"offset must be 0 or more, not {offset}")
    if not 1 <= limit <= MAX_PAGE:
        raise parameter_error(f"limit must be 1..{MAX_PAGE}, not {limit}")
    return offset, limit


def _source(request: web.Request) -> DdmInstance:
    instance_id = request.match_info["instance_id"]
    instance = state_of(request).world_of(request.match_info["project_id"]).ddm(instance_id)
    if instance is None:
        raise unknown_source(instance_id)
    return instance


def _restore_time(request: web.Request, source: DdmInstance) -> int:
    value = _int_param(request, "restore_time", what="epoch milliseconds")
    check_restore_time(source, value, state_of(request).now())
    return value


# ---- instances and candidates ---------------------------------------------------------------------------------


async def list_instances(request: web.Request) -> web.StreamResponse:
    offset, limit = _paging(request)
    instances = _world(request).ddm_instances
    page = instances[offset : offset + limit]
    total = len(instances)
    return json_answer(
        {
            "instances": [_instance_json(i, request.match_info["project_id"]) for i in page],
            "instance_num": total,
            "page_no": offset // limit + 1,
            "page_size": len(page),
            "total_record": total,
            "total_page": math.ceil(total / limit),
            "total": total,
        }
    )


def _instance_json(instance: DdmInstance, project_id: str) -> dict[str, Any]:
    # Stable per instance (ids in a world file need not be hex); a test may point it at a real server.
    host_part = sum(instance.id.encode()) % 200 + 10
    return {
        "id": instance.id,
        "status": instance.status,
        "name": instance.name,
        "created": format_api_time(instance.created),
        "updated": format_api_time(instance.updated),
        "available_zone": instance.available_zone,
        "vpc_id": instance.vpc_id,
        "subnet_id": str(uuid.uuid5(uuid.NAMESPACE_OID, "subnet" + instance.vpc_id)),
        "security_group_id": str(uuid.uuid5(uuid.NAMESPACE_OID, "sg" + instance.vpc_id)),
        "node_count": instance.node_count,
        "access_ip": instance.access_ip or f"192.168.1.{host_part}",
        "access_port": str(instance.access_port or 5066),
        "core_count": "4",
        "ram_capacity": "8",
        "node_status": "RUNNING" if instance.status == "RUNNING" else instance.status,
        "enterprise_project_id": "0",
        "project_id": project_id,
        "engine_version": instance.engine_version,
    }


async def restorable_time_interval(request: web.Request) -> web.StreamResponse:
    source = _source(request)
    windows = windows_of(source, state_of(request).now())
    return json_answer(
        {
            "restorable_time_intervals": [
                {"start_time": format_api_time(start), "end_time": format_api_time(end)} for start, end in windows
            ]
        }
    )


async def restorable_instances(request: web.Request) -> web.StreamResponse:

    source = _source(request)
    offset, limit = _paging(request)
    candidates = [i for i in _world(request).ddm_instances if i.id != source.id]
    items = []
    for instance in candidates[offset : offset + limit]:
        problem = target_ddm_problem(_world(request), instance)
        items.append(
            {
                "instance_id": instance.id,
                "instance_name": instance.name,
                "status": instance.status,
                "available": problem is None,
                "unavailable_reason": problem,
                "vpc_name": instance.vpc_name,
            }
        )
    return json_answer({"instances": items, "total": len(candidates)})


async def related_dn(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    source = _source(request)
    _restore_time(request, source)
    nodes = _world(request).data_nodes_of(source.id)
    return json_answer(
        {
            "related_data_nodes": [
                {
                    "instance_id": n.id,
                    "instance_name": n.name,
                    "instance_status": n.status,
                    "data_volume_size": n.data_volume_size,
                    "version": n.version,
                    "engine_name": n.engine,
                }
                for n in nodes
            ],
            "latest_restorable_time": latest_restorable_ms(source, state.now()),
        }
    )


async def restorable_data_node(request: web.Request) -> web.StreamResponse:

    source = _source(request)
    target_id = request.query.get("target_instance_id", "")
    source_dn_id = request.query.get("source_dn_instance_id", "")
    for name, value in (("target_instance_id", target_id), ("source_dn_instance_id", source_dn_id)):
        if not value:
            raise parameter_error(f"{name} is missing")
    _restore_time(request, source)
    target = _world(request).ddm(target_id)
    if target is None:
        raise parameter_error(f"target_instance_id {target_id!r} is not a DDM instance of this project")
    if target.id == source.id:
        raise parameter_error(f"target_instance_id {target_id} is the source instance itself")
    source_dn = _world(request).rds(source_dn_id)
    if source_dn is None or source_dn.ddm_instance_id != source.id:
        raise parameter_error(f"source_dn_instance_id {source_dn_id!r} is not a data node of instance {source.id}")
    items = []
    for node in free_data_nodes(_world(request)):
        problem = target_dn_problem(source_dn, node, target)
        items.append(
            {
                "instance_id": node.id,
                "instance_name": node.name,
                "engine_name": node.engine,
                "status": node.status,
                "available": problem is None,
                "unavailable_reason": problem.reason if problem else None,
                "vpc_name": node.vpc_name,
                "private_ip": node.private_ip,
            }
        )
    return json_answer({"target_data_nodes": items})


# ---- after a restore: an instance's details and schemas (V1) ---------------------------------------------------


async def show_instance(request: web.Request) -> web.StreamResponse:
    """`GET /v1/{project_id}/instances/{instance_id}`: the fields of the SDK's ShowInstanceResponse."""
    instance = _source(request)  # unknown: DBS.280001, answered V1-style
    body = _instance_json(instance, request.match_info["project_id"])
    host = body["access_ip"]
    body["nodes"] = [
        {
            "status": body["node_status"],
            "port": body["access_port"],
            "ip": f"{host}{n}",
            "node_id": f"{instance.id}no{n}",
        }
        for n in range(1, instance.node_count + 1)
    ]
    body["admin_user_name"] = "root"
    body["enable_ssl"] = False
    body["flavor_ref"] = "ddm.4xlarge.2"
    return json_answer(body)


async def list_databases(request: web.Request) -> web.StreamResponse:
    """`GET /v1/{project_id}/instances/{instance_id}/databases`: each logical schema with the data nodes it uses
    (the SDK's ListDatabasesResponse)."""
    instance = _source(request)  # unknown: DBS.280001, answered V1-style
    offset, limit = _paging(request)
    nodes = _world(request).data_nodes_of(instance.id)
    used = [{"id": n.id, "name": n.name, "status": n.status} for n in nodes]
    items = [
        {
            "name": name,
            "shard_mode": "cluster",
            "shard_number": 8 * max(1, len(nodes)),
            "status": "RUNNING",
            "created": epoch_ms(instance.updated),
            "used_rds": used,
            "shard_unit": 8,
        }
        for name in instance.schemas
    ]
    return json_answer({"databases": items[offset : offset + limit], "total": len(items)})


# ---- the restore and its jobs ---------------------------------------------------------------------------------


async def recovery(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    raw = await request.read()
    if not raw.strip():
        raise parameter_error("the body is empty: send source, target and data_node_relations")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise parameter_error(f"the body is not valid JSON ({exc})") from None
    job = start_restore(_world(request), request.match_info["instance_id"], data, state.now())
    log.info("simulator: restore job %s started on %s", job.id, job.instance_id)
    return json_answer({"job_id": job.id}, status=202)


def _job_fields(job: Job, state: SimulatorState) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "created_time": format_api_time(job.created),
        "end_time": format_api_time(job.end_time) if job.end_time else "",
        "process": job.process(state.now(), state.job_seconds),
        "fail_reason": (job.fail_reason or "") if job.status == JOB_FAILED else "",
    }


def _instance_name(job: Job, world: World) -> str:
    instance = world.ddm(job.instance_id)
    return instance.name if instance else ""


async def show_job(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    job = _world(request).job(request.match_info["job_id"])
    if job is None:
        raise job_not_found(request.match_info["job_id"])
    body = _job_fields(job, state)
    body["instance"] = {"id": job.instance_id, "name": _instance_name(job, _world(request))}
    return json_answer({"job": body})


async def list_jobs(request: web.Request) -> web.StreamResponse:
    """Jobs created in [start_time, end_time] (epoch ms), newest first, paged. One call answers for all jobs."""
    state = state_of(request)
    start_ms = _int_param(request, "start_time", what="epoch milliseconds")
    end_ms = _int_param(request, "end_time", what="epoch milliseconds")
    offset, limit = _paging(request)
    now = state.now()
    if start_ms > end_ms:
        raise parameter_error(f"start_time {start_ms} is after end_time {end_ms}")
    oldest = now - JOB_LIST_MAX_AGE
    if from_epoch_ms(start_ms) < oldest - JOB_LIST_GRACE:
        raise parameter_error(f"start_time {start_ms} is more than 30 days back (the oldest is {epoch_ms(oldest)})")
    found = [j for j in _world(request).jobs if start_ms <= epoch_ms(j.created) <= end_ms]
    found.sort(key=lambda j: j.created, reverse=True)
    items = []
    for job in found[offset : offset + limit]:
        item = _job_fields(job, state)
        item["instance_id"] = job.instance_id
        item["instance_name"] = _instance_name(job, _world(request))
        items.append(item)
    return json_answer({"jobs": items, "total": len(found)})


def add_routes(router: web.UrlDispatcher) -> None:
    """The DDM routes; their names are the fault/latency/call-log route names (faults.ROUTE_NAMES)."""
    base = "/v3/{project_id}"
    backups = base + "/instances/{instance_id}/backups"
    router.add_get(base + "/instances", list_instances, name="list_instances")
    router.add_get(backups + "/restorable-time-interval", restorable_time_interval, name="restorable_time_interval")
    router.add_get(backups + "/restorable-instances", restorable_instances, name="restorable_instances")
    router.add_get(backups + "/related-dn", related_dn, name="related_dn")
    router.add_get(backups + "/restorable-data-node", restorable_data_node, name="restorable_data_node")
    router.add_post(backups + "/recovery", recovery, name="recovery")
    router.add_get(base + "/jobs/{job_id}", show_job, name="job")
    router.add_get(base + "/jobs", list_jobs, name="jobs")
    v1 = "/v1/{project_id}/instances/{instance_id}"
    router.add_get(v1, show_instance, name="instance")
    router.add_get(v1 + "/databases", list_databases, name="databases")
