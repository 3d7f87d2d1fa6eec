"""The simulator's HTTP server: Huawei Cloud IAM (token) + DDM (the restore family) on one aiohttp app.

API routes answer like the real services: paths, query parameters, status codes, JSON field names, and an
``X-Request-Id`` header on every answer. Choices where the real behaviour is unverified:

- gateway: a DDM call needs a valid ``X-Auth-Token`` or AK/SK signature, else 401 ``APIGW.0301``; a path
  project (or AK/SK ``X-Project-Id``) other than the credentials' gets 403 ``APIGW.0106``; an unknown API (or
  wrong method) gets 404 ``APIGW.0101``;
- an unknown job id gets 400 ``DBS.300400`` (the DDM error table's "task not found");
- an unknown source instance in a path gets 400 ``DBS.280001``;
- paging: ``offset`` >= 0, ``limit`` 1..128 (default 128), else 400 ``DBS.280001``;
- the job list needs both ``start_time`` and ``end_time`` (epoch ms), ``start_time`` at most 30 days back
  (plus 5 minutes of grace for clock drift); jobs whose created time is in the range, newest first;
- ``process`` is ``"NN%"`` while a job runs and ``""`` after it (as the SDK documents); ``end_time`` is null
  while it runs; ``fail_reason`` is present on the job detail only for Failed jobs.

Control routes for tests and drills (no auth, JSON in and out):

- ``POST /_sim/faults`` ``{"route", "kind", "count", "delay_seconds", "retry_after", "execute"}`` (see
  faults.py); ``GET /_sim/faults`` lists pending faults, latency and the number of parked calls (``held``);
  ``DELETE /_sim/faults`` clears faults and latency; ``POST /_sim/release`` lets parked calls go on;
- ``POST /_sim/latency`` ``{"route", "seconds"}`` (0 removes it);
- ``GET /_sim/calls?route=NAME`` / ``DELETE /_sim/calls``: the call log (no headers; passwords masked);
- ``POST /_sim/revoke-tokens``; ``GET /_sim/world``;
- ``POST /_sim/targets/{instance_id}/outcome`` ``{"outcome": "Completed"|"Failed", "fail_reason"}``;
- ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.simulator.auth import (
    AuthFailure,
    IamError,
    SimulatorCredentials,
    TokenStore,
    authenticate,
    bad_request,
    parse_token_request,
)
from bot.simulator.faults import ROUTE_NAMES, Fault, FaultBook, FaultSpecError, parse_fault, parse_latency
from bot.simulator.rules import (
    JOB_NOT_FOUND,
    SERVER_FAILURE,
    ApiError,
    free_data_nodes,
    in_window,
    latest_restorable_ms,
    parameter_error,
    start_restore,
    target_ddm_problem,
    target_dn_problem,
    windows_of,
)
from bot.simulator.world import (
    JOB_COMPLETED,
    JOB_FAILED,
    DdmInstance,
    Job,
    World,
    demo_world,
    epoch_ms,
    format_api_time,
    from_epoch_ms,
    utc_now,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_PAGE = 128
JOB_LIST_MAX_AGE = timedelta(days=30)
JOB_LIST_GRACE = timedelta(minutes=5)
THROTTLED_MSG = "The throttling threshold has been reached: policy user over ratelimit,limit:60,time:1 minute"
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
# Values under these keys never reach the call log ("token" would hold a token in an IAM token-method body).
_SECRET_KEYS = {"password", "sk", "secret", "security_token", "access_token"}
_SECRET_OBJECTS = {"token"}


@dataclass
class CallRecord:
    """One API call as the simulator saw it. Never holds a secret: no headers, passwords masked."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    at: str
    auth: str | None
    request_id: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SimulatorState:
    """Everything the server knows; tests running in-process may inspect and change it directly."""

    def __init__(
        self,
        *,
        credentials: SimulatorCredentials,
        world: World | None = None,
        job_seconds: float = 20.0,
        token_ttl_seconds: int = 86400,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or utc_now
        self.credentials = credentials
        self.world = world if world is not None else demo_world(now=self.clock())
        self.job_seconds = job_seconds
        self.tokens = TokenStore(credentials, token_ttl_seconds)
        self.faults = FaultBook()
        self.calls: list[CallRecord] = []

    def now(self) -> datetime:
        return self.clock()

    def advance(self) -> None:
        """Bring jobs up to date (they are evaluated lazily, at each look, from their start time)."""
        self.world.advance(self.now(), self.job_seconds)

    def calls_for(self, route: str | None = None) -> list[CallRecord]:
        return [c for c in self.calls if route is None or c.route == route]


STATE_KEY = web.AppKey("simulator_state", SimulatorState)
REQUEST_ID_KEY = web.RequestKey("request_id", str)


# ---- answers ------------------------------------------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Compact JSON, as the real services write it.
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _ddm_error(error: ApiError) -> web.Response:
    return _json({"error_code": error.code, "error_msg": error.message}, status=error.status)


def _gateway_error(status: int, code: str, message: str, request_id: str) -> web.Response:
    return _json({"error_code": code, "error_msg": message, "request_id": request_id}, status=status)


def _request_id(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY) or uuid.uuid4().hex


def _state(request: web.Request) -> SimulatorState:
    return request.app[STATE_KEY]


# ---- query parsing (the service answers DBS.280001 to anything out of range) ----------------------------------


def _int_param(request: web.Request, name: str, *, default: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise parameter_error()
        return default
    try:
        return int(raw)
    except ValueError:
        raise parameter_error() from None


def _paging(request: web.Request) -> tuple[int, int]:
    offset = _int_param(request, "offset", default=0)
    limit = _int_param(request, "limit", default=MAX_PAGE)
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise parameter_error()
    return offset, limit


def _source(request: web.Request) -> DdmInstance:
    instance = _state(request).world.ddm(request.match_info["instance_id"])
    if instance is None:
        raise parameter_error()
    return instance


def _restore_time(request: web.Request, source: DdmInstance) -> int:
    value = _int_param(request, "restore_time")
    if not in_window(source, value, _state(request).now()):
        raise parameter_error()
    return value


# ---- IAM ------------------------------------------------------------------------------------------------------


async def iam_token(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    try:
        data = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    token_request = parse_token_request(data)
    token, record = state.tokens.issue(token_request, state.now())
    nocatalog = request.query.get("nocatalog", "").lower() == "true"
    catalog = None if nocatalog else _catalog(request)
    body = state.tokens.token_body(record, token_request, catalog=catalog)
    return _json(body, status=201, headers={"X-Subject-Token": token})


def _catalog(request: web.Request) -> list[Any]:
    # One server plays both services, so the catalog points both at it.
    url = f"{request.scheme}://{request.host}"
    return [
        {
            "type": kind,
            "name": kind,
            "id": uuid.uuid5(uuid.NAMESPACE_URL, kind).hex,
            "endpoints": [
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, kind + url).hex,
                    "interface": "public",
                    "region": "*",
                    "region_id": "*",
                    "url": url,
                }
            ],
        }
        for kind in ("iam", "ddm")
    ]


# ---- DDM ------------------------------------------------------------------------------------------------------


async def list_instances(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    offset, limit = _paging(request)
    instances = state.world.ddm_instances
    page = instances[offset : offset + limit]
    total = len(instances)
    return _json(
        {
            "instances": [_instance_json(i, state) for i in page],
            "instance_num": total,
            "page_no": offset // limit + 1,
            "page_size": len(page),
            "total_record": total,
            "total_page": math.ceil(total / limit),
            "total": total,
        }
    )


def _instance_json(instance: DdmInstance, state: SimulatorState) -> dict[str, Any]:
    # Stable per instance (ids in a world file need not be hex).
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
        "access_ip": f"192.168.1.{host_part}",
        "access_port": "5066",
        "core_count": "4",
        "ram_capacity": "8",
        "node_status": "RUNNING" if instance.status == "RUNNING" else instance.status,
        "enterprise_project_id": "0",
        "project_id": state.credentials.project_id,
        "engine_version": instance.engine_version,
    }


async def restorable_time_interval(request: web.Request) -> web.StreamResponse:
    source = _source(request)
    windows = windows_of(source, _state(request).now())
    return _json(
        {
            "restorable_time_intervals": [
                {"start_time": format_api_time(start), "end_time": format_api_time(end)} for start, end in windows
            ]
        }
    )


async def restorable_instances(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    source = _source(request)
    offset, limit = _paging(request)
    candidates = [i for i in state.world.ddm_instances if i.id != source.id]
    items = []
    for instance in candidates[offset : offset + limit]:
        problem = target_ddm_problem(state.world, instance)
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
    return _json({"instances": items, "total": len(candidates)})


async def related_dn(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    source = _source(request)
    _restore_time(request, source)
    nodes = state.world.data_nodes_of(source.id)
    return _json(
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
    state = _state(request)
    source = _source(request)
    target_id = request.query.get("target_instance_id", "")
    source_dn_id = request.query.get("source_dn_instance_id", "")
    _restore_time(request, source)
    target = state.world.ddm(target_id)
    source_dn = state.world.rds(source_dn_id)
    if target is None or target.id == source.id or source_dn is None or source_dn.ddm_instance_id != source.id:
        raise parameter_error()
    items = []
    for node in free_data_nodes(state.world):
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
    return _json({"target_data_nodes": items})


async def recovery(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    try:
        data = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise parameter_error() from None
    job = start_restore(state.world, request.match_info["instance_id"], data, state.now())
    log.info("simulator: restore job %s started on %s", job.id, job.instance_id)
    return _json({"job_id": job.id}, status=202)


def _job_fields(job: Job, state: SimulatorState) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "created_time": format_api_time(job.created),
        "end_time": format_api_time(job.end_time) if job.end_time else None,
        "process": job.process(state.now(), state.job_seconds),
    }


def _instance_name(job: Job, state: SimulatorState) -> str | None:
    instance = state.world.ddm(job.instance_id)
    return instance.name if instance else None


async def show_job(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    job = state.world.job(request.match_info["job_id"])
    if job is None:
        raise ApiError(400, JOB_NOT_FOUND, "The task does not exist.")
    body = _job_fields(job, state)
    body["instance"] = {"id": job.instance_id, "name": _instance_name(job, state)}
    if job.status == JOB_FAILED:
        body["fail_reason"] = job.fail_reason
    return _json({"job": body})


async def list_jobs(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    start_ms = _int_param(request, "start_time")
    end_ms = _int_param(request, "end_time")
    offset, limit = _paging(request)
    now = state.now()
    if start_ms > end_ms or from_epoch_ms(start_ms) < now - JOB_LIST_MAX_AGE - JOB_LIST_GRACE:
        raise parameter_error()
    found = [j for j in state.world.jobs if start_ms <= epoch_ms(j.created) <= end_ms]
    found.sort(key=lambda j: j.created, reverse=True)
    items = []
    for job in found[offset : offset + limit]:
        item = _job_fields(job, state)
        item["instance_id"] = job.instance_id
        item["instance_name"] = _instance_name(job, state)
        item["fail_reason"] = job.fail_reason if job.status == JOB_FAILED else None
        items.append(item)
    return _json({"jobs": items, "total": len(found)})


# ---- the gateway: record, latency, auth, faults -----------------------------------------------------------------


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("******" if _is_secret(k, v) else _mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _is_secret(key: str, value: Any) -> bool:
    lowered = key.lower()
    return lowered in _SECRET_OBJECTS or (lowered in _SECRET_KEYS and not isinstance(value, dict | list))


def _recordable_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return _mask(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


async def _run(handler: Handler, request: web.Request) -> web.StreamResponse:
    """Call a route handler and turn the service's error exceptions into their answers."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _ddm_error(exc)
    except IamError as exc:
        return _json(exc.body(), status=exc.status)


async def _through_gateway(request: web.Request, handler: Handler, route: str) -> web.StreamResponse:
    state = _state(request)
    rid = _request_id(request)
    raw_body = await request.read()
    record = CallRecord(
        route=route,
        method=request.method,
        path=request.path,
        query=dict(request.query),
        body=_recordable_body(raw_body),
        status=None,
        at=state.now().isoformat(),
        auth=None,
        request_id=rid,
    )
    state.calls.append(record)
    latency = state.faults.latency_for(route)
    if latency > 0:
        await state.faults.sleep(latency)
    if route != "iam_token":
        state.advance()
        try:
            caller = authenticate(
                credentials=state.credentials,
                tokens=state.tokens,
                method=request.method,
                path=request.rel_url.raw_path,
                raw_query=request.rel_url.raw_query_string,
                headers=request.headers,
                body=raw_body,
                now=state.now(),
            )
        except AuthFailure as exc:
            record.status = 401
            return _gateway_error(401, "APIGW.0301", f"Incorrect IAM authentication information: {exc.why}", rid)
        record.auth = caller.mode
        project_id = request.match_info.get("project_id")
        if project_id != state.credentials.project_id or caller.project_id != project_id:
            record.status = 403
            return _gateway_error(
                403,
                "APIGW.0106",
                "The project ID in the request URL does not match the project of the credentials.",
                rid,
            )
    fault = state.faults.take(route)
    response = await _run(handler, request) if fault is None else await _apply_fault(fault, request, handler)
    record.status = response.status
    return response


async def _apply_fault(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    faults = _state(request).faults
    rid = _request_id(request)
    log.info("simulator: injecting fault %s on %s", fault.kind, fault.route)
    if fault.kind == "400":
        return _json({"error_code": fault.error_code, "error_msg": fault.error_msg}, status=400)
    if fault.kind == "429":
        response = _gateway_error(429, "APIGW.0308", THROTTLED_MSG, rid)
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    if fault.kind == "malformed":
        real = await _run(handler, request)
        body = real.body if isinstance(real, web.Response) and isinstance(real.body, bytes) else b"{}"
        return web.Response(body=body[: max(1, len(body) // 2)], status=200, content_type="application/json")
    if fault.kind == "hold":
        if fault.execute:
            real = await _run(handler, request)
            await faults.wait_released()
            return real
        await faults.wait_released()
        return await _run(handler, request)
    if fault.execute:
        await _run(handler, request)
    if fault.kind == "timeout":
        await faults.sleep(fault.delay_seconds)
        return _gateway_error(504, "APIGW.0202", "Backend timeout.", rid)
    if fault.kind == "html":
        return web.Response(text=HTML_502, status=502, content_type="text/html")
    return _json({"error_code": SERVER_FAILURE, "error_msg": "Server failure."}, status=500)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = uuid.uuid4().hex
    request[REQUEST_ID_KEY] = rid
    try:
        route = request.match_info.route.name
        if route in ROUTE_NAMES:
            response = await _through_gateway(request, handler, route)
        else:
            response = await _run(handler, request)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            # The API gateway does not tell a wrong method from a wrong path.
            response = _gateway_error(
                404, "APIGW.0101", "The API does not exist or has not been published in the environment", rid
            )
        else:
            response = _json({"error_code": f"HTTP.{exc.status}", "error_msg": exc.reason}, status=exc.status)
    response.headers["X-Request-Id"] = rid
    response.headers["Server"] = "api-gateway"  # what Huawei's gateway calls itself
    return response


# ---- the control API ------------------------------------------------------------------------------------------


async def _read_json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FaultSpecError("body must be JSON") from None


async def sim_add_fault(request: web.Request) -> web.StreamResponse:
    try:
        fault = parse_fault(await _read_json(request))
    except FaultSpecError as exc:
        return _json({"error": str(exc)}, status=400)
    _state(request).faults.add(fault)
    return _json({"fault": fault.to_json()}, status=201)


async def sim_list_faults(request: web.Request) -> web.StreamResponse:
    return _json(_state(request).faults.to_json())


async def sim_clear_faults(request: web.Request) -> web.StreamResponse:
    _state(request).faults.clear()
    return _json({"cleared": True})


async def sim_release(request: web.Request) -> web.StreamResponse:
    return _json({"released": _state(request).faults.release()})


async def sim_latency(request: web.Request) -> web.StreamResponse:
    try:
        route, seconds = parse_latency(await _read_json(request))
    except FaultSpecError as exc:
        return _json({"error": str(exc)}, status=400)
    _state(request).faults.set_latency(route, seconds)
    return _json({"latency": _state(request).faults.latency})


async def sim_calls(request: web.Request) -> web.StreamResponse:
    route = request.query.get("route")
    return _json([c.to_json() for c in _state(request).calls_for(route)])


async def sim_clear_calls(request: web.Request) -> web.StreamResponse:
    _state(request).calls.clear()
    return _json({"cleared": True})


async def sim_revoke_tokens(request: web.Request) -> web.StreamResponse:
    return _json({"revoked": _state(request).tokens.revoke_all()})


async def sim_world(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    state.advance()
    return _json({"now": state.now().isoformat(), **state.world.to_json()})


async def sim_target_outcome(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    target = state.world.ddm(request.match_info["instance_id"])
    if target is None:
        return _json({"error": "unknown DDM instance"}, status=404)
    try:
        data = await _read_json(request)
    except FaultSpecError as exc:
        return _json({"error": str(exc)}, status=400)
    outcome = data.get("outcome") if isinstance(data, dict) else None
    reason = data.get("fail_reason") if isinstance(data, dict) else None
    if outcome not in (JOB_COMPLETED, JOB_FAILED) or (reason is not None and not isinstance(reason, str)):
        return _json({"error": "outcome must be Completed or Failed; fail_reason a string"}, status=400)
    target.restore_outcome = outcome
    target.fail_reason = (reason or "Restoring data failed.") if outcome == JOB_FAILED else None
    return _json({"instance_id": target.id, "outcome": target.restore_outcome, "fail_reason": target.fail_reason})


async def healthz(request: web.Request) -> web.StreamResponse:
    return _json({"status": "ok"})


# ---- assembly -------------------------------------------------------------------------------------------------


def build_app(
    *,
    credentials: SimulatorCredentials,
    world: World | None = None,
    job_seconds: float = 20.0,
    token_ttl_seconds: int = 86400,
    clock: Clock | None = None,
) -> web.Application:
    """The simulator as an aiohttp app (IAM and DDM on one server). ``clock`` is for tests."""
    app = web.Application(middlewares=[_middleware])
    app[STATE_KEY] = SimulatorState(
        credentials=credentials,
        world=world,
        job_seconds=job_seconds,
        token_ttl_seconds=token_ttl_seconds,
        clock=clock,
    )
    base = "/v3/{project_id}"
    backups = base + "/instances/{instance_id}/backups"
    r = app.router
    r.add_post("/v3/auth/tokens", iam_token, name="iam_token")
    r.add_get(base + "/instances", list_instances, name="list_instances")
    r.add_get(backups + "/restorable-time-interval", restorable_time_interval, name="restorable_time_interval")
    r.add_get(backups + "/restorable-instances", restorable_instances, name="restorable_instances")
    r.add_get(backups + "/related-dn", related_dn, name="related_dn")
    r.add_get(backups + "/restorable-data-node", restorable_data_node, name="restorable_data_node")
    r.add_post(backups + "/recovery", recovery, name="recovery")
    r.add_get(base + "/jobs/{job_id}", show_job, name="job")
    r.add_get(base + "/jobs", list_jobs, name="jobs")
    r.add_post("/_sim/faults", sim_add_fault)
    r.add_get("/_sim/faults", sim_list_faults)
    r.add_delete("/_sim/faults", sim_clear_faults)
    r.add_post("/_sim/release", sim_release)
    r.add_post("/_sim/latency", sim_latency)
    r.add_get("/_sim/calls", sim_calls)
    r.add_delete("/_sim/calls", sim_clear_calls)
    r.add_post("/_sim/revoke-tokens", sim_revoke_tokens)
    r.add_get("/_sim/world", sim_world)
    r.add_post("/_sim/targets/{instance_id}/outcome", sim_target_outcome)
    r.add_get("/healthz", healthz)
    return app


class RunningSimulator:
    """The simulator on a real socket, as an async context manager (port 0 = a free port)."""

    def __init__(
        self,
        *,
        credentials: SimulatorCredentials,
        world: World | None = None,
        job_seconds: float = 20.0,
        token_ttl_seconds: int = 86400,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        access_log: bool = False,
    ) -> None:
        self.app = build_app(
            credentials=credentials,
            world=world,
            job_seconds=job_seconds,
            token_ttl_seconds=token_ttl_seconds,
            clock=clock,
        )
        self.state: SimulatorState = self.app[STATE_KEY]
        self.host = host
        self.port = port
        self.base_url = ""
        self._access_log = access_log
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> RunningSimulator:
        kwargs: dict[str, Any] = {} if self._access_log else {"access_log": None}
        # A short shutdown timeout: parked or slow calls must not hold a test run hostage.
        runner = web.AppRunner(self.app, shutdown_timeout=1.0, **kwargs)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        address = runner.addresses[0]
        host, port = address[0], address[1]
        self.port = int(port)
        self.base_url = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.state.faults.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(
    *,
    host: str,
    port: int,
    credentials: SimulatorCredentials,
    world: World | None,
    job_seconds: float,
    token_ttl_seconds: int = 86400,
) -> None:
    """Run the simulator until cancelled. Logs where it listens and which auth modes are on (never secrets)."""
    async with RunningSimulator(
        credentials=credentials,
        world=world,
        job_seconds=job_seconds,
        token_ttl_seconds=token_ttl_seconds,
        host=host,
        port=port,
        access_log=True,
    ) as sim:
        w = sim.state.world
        log.info(
            "Huawei Cloud simulator (IAM + DDM) listening on %s for project %s; auth: %s",
            sim.base_url,
            credentials.project_id,
            credentials.describe(),
        )
        log.info(
            "simulator world: %d DDM instances, %d RDS instances, %d jobs; restores take %.1f s",
            len(w.ddm_instances),
            len(w.rds_instances),
            len(w.jobs),
            job_seconds,
        )
        await asyncio.Event().wait()
