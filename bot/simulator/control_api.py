"""The control API for people, tests and drills (no auth, JSON in and out; never part of the real service).

- ``POST /_sim/reset``: back to the seed world (jobs, busy targets, outcomes), no faults, latency or parked calls,
  an empty call log; answers what it undid. Issued tokens stay valid.
- ``POST /_sim/faults`` ``{"route", "kind", "count", "delay_seconds", "retry_after", "execute", "error_code",
  "error_msg"}`` (see faults.py); ``GET /_sim/faults`` lists pending faults, latency and the number of parked
  calls (``held``); ``DELETE /_sim/faults`` clears faults and latency; ``POST /_sim/release`` lets parked calls go;
- ``POST /_sim/latency`` ``{"route", "seconds"}`` (0 removes it);
- ``GET /_sim/calls?route=NAME`` / ``DELETE /_sim/calls``: the call log (no headers; passwords masked);
  ``GET /_sim/calls/count`` ``{"total", "by_route": {route: n}}`` (e.g. job-list calls a poller made);
- ``POST /_sim/revoke-tokens``; ``GET /_sim/world``;
- ``POST /_sim/targets/{instance_id}/outcome`` ``{"outcome": "Completed"|"Failed", "fail_reason"}``;
- ``POST /_sim/targets/{instance_id}/after-restore`` ``{"status": "RUNNING"|"ABNORMAL"|…}``: the status the target
  settles in after its next completed restore (anything but RUNNING: it stays abnormal, a verification drill);
- ``POST /_sim/targets/{instance_id}/access`` ``{"ip": "127.0.0.1", "port": 3306}``: where the instance says it
  speaks MySQL (e.g. a local MariaDB for the SQL checks); ``{"ip": null, "port": null}`` goes back to the default;
- ``GET /healthz``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.simulator.faults import ROUTE_NAMES, FaultSpecError, parse_fault, parse_latency
from bot.simulator.model import JOB_COMPLETED, JOB_FAILED, DdmInstance
from bot.simulator.state import json_answer, state_of


async def _read_json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FaultSpecError(f"body must be JSON ({exc})") from None


def _refused(message: str, status: int = 400) -> web.Response:
    return json_answer({"error": message}, status=status)


async def sim_reset(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    undone = state.reset()
    w = state.world
    return json_answer(
        {
            "reset": True,
            **undone,
            "world": {
                "ddm_instances": len(w.ddm_instances),
                "rds_instances": len(w.rds_instances),
                "jobs": len(w.jobs),
            },
        }
    )


async def sim_add_fault(request: web.Request) -> web.StreamResponse:
    try:
        fault = parse_fault(await _read_json(request))
    except FaultSpecError as exc:
        return _refused(str(exc))
    state_of(request).faults.add(fault)
    return json_answer({"fault": fault.to_json()}, status=201)


async def sim_list_faults(request: web.Request) -> web.StreamResponse:
    return json_answer(state_of(request).faults.to_json())


async def sim_clear_faults(request: web.Request) -> web.StreamResponse:
    state_of(request).faults.clear()
    return json_answer({"cleared": True})


async def sim_release(request: web.Request) -> web.StreamResponse:
    return json_answer({"released": state_of(request).faults.release()})


async def sim_latency(request: web.Request) -> web.StreamResponse:
    try:
        route, seconds = parse_latency(await _read_json(request))
    except FaultSpecError as exc:
        return _refused(str(exc))
    state_of(request).faults.set_latency(route, seconds)
    return json_answer({"latency": state_of(request).faults.latency})


def _route_filter(request: web.Request) -> str | None:
    route = request.query.get("route")
    if route is not None and route not in ROUTE_NAMES:
        raise FaultSpecError(f"route must be one of {', '.join(ROUTE_NAMES)}, not {route!r}")
    return route


async def sim_calls(request: web.Request) -> web.StreamResponse:
    try:
        route = _route_filter(request)
    except FaultSpecError as exc:
        return _refused(str(exc))
    return json_answer([c.to_json() for c in state_of(request).calls_for(route)])


async def sim_call_count(request: web.Request) -> web.StreamResponse:
    counts = state_of(request).call_counts()
    return json_answer({"total": sum(counts.values()), "by_route": counts})


async def sim_clear_calls(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    cleared = len(state.calls)
    state.calls.clear()
    return json_answer({"cleared": True, "calls": cleared})


async def sim_revoke_tokens(request: web.Request) -> web.StreamResponse:
    return json_answer({"revoked": sum(p.tokens.revoke_all() for p in state_of(request).projects.values())})


async def sim_world(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    state.advance()
    world = state.world_of(request.query.get("project", state.credentials.project_id))  # ?project=: another one
    return json_answer({"now": state.now().isoformat(), **world.to_json()})


async def sim_target_outcome(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    instance_id = request.match_info["instance_id"]
    target = next((p.world.ddm(instance_id) for p in state.projects.values() if p.world.ddm(instance_id)), None)
    if target is None:
        return _refused(f"no DDM instance {instance_id!r} in the world", status=404)
    try:
        data = await _read_json(request)
    except FaultSpecError as exc:
        return _refused(str(exc))
    outcome = data.get("outcome") if isinstance(data, dict) else None
    reason = data.get("fail_reason") if isinstance(data, dict) else None
    if outcome not in (JOB_COMPLETED, JOB_FAILED):
        return _refused(f"outcome must be Completed or Failed, not {json.dumps(outcome)}")
    if reason is not None and not isinstance(reason, str):
        return _refused(f"fail_reason must be a string, not {json.dumps(reason)}")
    target.restore_outcome = outcome
    target.fail_reason = (reason or "Restoring data failed.") if outcome == JOB_FAILED else None
    return json_answer({"instance_id": target.id, "outcome": target.restore_outcome, "fail_reason": target.fail_reason})


def _target(request: web.Request) -> DdmInstance | None:
    state = state_of(request)
    instance_id = request.match_info["instance_id"]
    return next((p.world.ddm(instance_id) for p in state.projects.values() if p.world.ddm(instance_id)), None)


async def sim_target_after_restore(request: web.Request) -> web.StreamResponse:
    target = _target(request)
    if target is None:
        return _refused(f"no DDM instance {request.match_info['instance_id']!r} in the world", status=404)
    try:
        data = await _read_json(request)
    except FaultSpecError as exc:
        return _refused(str(exc))
    status = data.get("status") if isinstance(data, dict) else None
    if not isinstance(status, str) or not status.strip():
        return _refused(f"status must be a DDM status such as RUNNING or ABNORMAL, not {json.dumps(status)}")
    target.after_restore = status.strip()
    return json_answer({"instance_id": target.id, "after_restore": target.after_restore})


async def sim_target_access(request: web.Request) -> web.StreamResponse:
    target = _target(request)
    if target is None:
        return _refused(f"no DDM instance {request.match_info['instance_id']!r} in the world", status=404)
    try:
        data = await _read_json(request)
    except FaultSpecError as exc:
        return _refused(str(exc))
    if not isinstance(data, dict) or set(data) - {"ip", "port"}:
        return _refused('body must be {"ip": "…", "port": N}')
    ip, port = data.get("ip"), data.get("port")
    if ip is not None and (not isinstance(ip, str) or not ip.strip()):
        return _refused(f"ip must be an address or null, not {json.dumps(ip)}")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        return _refused(f"port must be 1..65535 or null, not {json.dumps(port)}")
    target.access_ip, target.access_port = (ip.strip() if ip else None), port
    return json_answer({"instance_id": target.id, "access_ip": target.access_ip, "access_port": target.access_port})


async def healthz(request: web.Request) -> web.StreamResponse:
    return json_answer({"status": "ok"})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/_sim/reset", sim_reset)
    router.add_post("/_sim/faults", sim_add_fault)
    router.add_get("/_sim/faults", sim_list_faults)
    router.add_delete("/_sim/faults", sim_clear_faults)
    router.add_post("/_sim/release", sim_release)
    router.add_post("/_sim/latency", sim_latency)
    router.add_get("/_sim/calls", sim_calls)
    router.add_get("/_sim/calls/count", sim_call_count)
    router.add_delete("/_sim/calls", sim_clear_calls)
    router.add_post("/_sim/revoke-tokens", sim_revoke_tokens)
    router.add_get("/_sim/world", sim_world)
    router.add_post("/_sim/targets/{instance_id}/outcome", sim_target_outcome)
    router.add_post("/_sim/targets/{instance_id}/after-restore", sim_target_after_restore)
    router.add_post("/_sim/targets/{instance_id}/access", sim_target_access)
    router.add_get("/healthz", healthz)
