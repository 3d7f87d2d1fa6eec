"""The API gateway in front of IAM and DDM: request ids, the call log, latency, authentication, faults.

- a DDM call needs a valid ``X-Auth-Token`` or AK/SK signature, else 401 ``APIGW.0301``; a path project (or
  AK/SK ``X-Project-Id``) other than the credentials' gets 403 ``APIGW.0106``;
- an unknown API (or wrong method) gets 404 ``APIGW.0101``;
- every answer carries ``X-Request-Id``; every API call is logged (no headers, secrets masked).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.simulator.auth import AuthFailure, IamError, authenticate
from bot.simulator.faults import ROUTE_NAMES, Fault
from bot.simulator.rules import SERVER_FAILURE, ApiError
from bot.simulator.state import REQUEST_ID_KEY, CallRecord, ddm_error, gateway_error, json_answer, state_of

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

THROTTLED_MSG = "The throttling threshold has been reached: policy user over ratelimit,limit:60,time:1 minute"
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
# Values under these keys never reach the call log ("token" would hold a token in an IAM token-method body).
_SECRET_KEYS = {"password", "sk", "secret", "security_token", "access_token"}
_SECRET_OBJECTS = {"token"}


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


async def run_handler(handler: Handler, request: web.Request) -> web.StreamResponse:
    """Call a route handler and turn the service's error exceptions into their answers."""
    try:
        return await handler(request)
    except ApiError as exc:
        return ddm_error(exc, v1=_is_v1(request))
    except IamError as exc:
        return json_answer(exc.body(), status=exc.status)


async def _through_gateway(request: web.Request, handler: Handler, route: str) -> web.StreamResponse:
    state = state_of(request)
    rid = request[REQUEST_ID_KEY]
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
        project = state.project(request.match_info.get("project_id")) or state.primary
        try:
            caller = authenticate(
                credentials=project.credentials,
                tokens=project.tokens,
                method=request.method,
                path=request.rel_url.raw_path,
                raw_query=request.rel_url.raw_query_string,
                headers=request.headers,
                body=raw_body,
                now=state.now(),
            )
        except AuthFailure as exc:
            record.status = 401
            return gateway_error(401, "APIGW.0301", f"Incorrect IAM authentication information: {exc.why}", rid)
        record.auth = caller.mode
        project_id = request.match_info.get("project_id")
        if project_id != project.credentials.project_id or caller.project_id != project_id:
            record.status = 403
            return gateway_error(
                403,
                "APIGW.0106",
                "The project ID in the request URL does not match the project of the credentials.",
                rid,
            )
    fault = state.faults.take(route)
    response = await run_handler(handler, request) if fault is None else await _apply_fault(fault, request, handler)
    record.status = response.status
    return response


async def _apply_fault(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    faults = state_of(request).faults
    rid = request[REQUEST_ID_KEY]
    log.info("simulator: injecting fault %s on %s", fault.kind, fault.route)
    if fault.kind == "400":
        return ddm_error(ApiError(400, fault.error_code, fault.error_msg), v1=_is_v1(request))
    if fault.kind == "429":
        response = gateway_error(429, "APIGW.0308", THROTTLED_MSG, rid)
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    if fault.kind == "malformed":
        real = await run_handler(handler, request)
        body = real.body if isinstance(real, web.Response) and isinstance(real.body, bytes) else b"{}"
        return web.Response(body=body[: max(1, len(body) // 2)], status=200, content_type="application/json")
    if fault.kind == "hold":
        if fault.execute:
            real = await run_handler(handler, request)
            await faults.wait_released()
            return real
        await faults.wait_released()
        return await run_handler(handler, request)
    if fault.execute:
        await run_handler(handler, request)
    if fault.kind == "timeout":
        await faults.sleep(fault.delay_seconds)
        return gateway_error(504, "APIGW.0202", "Backend timeout.", rid)
    if fault.kind == "html":
        return web.Response(text=HTML_502, status=502, content_type="text/html")
    return ddm_error(ApiError(500, SERVER_FAILURE, "Server failure."), v1=_is_v1(request))


def _is_v1(request: web.Request) -> bool:
    """DDM's V1 (and V2) calls answer errors as `{"errCode","externalMessage"}`."""
    return request.path.startswith(("/v1/", "/v2/"))


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = uuid.uuid4().hex
    request[REQUEST_ID_KEY] = rid
    try:
        route = request.match_info.route.name
        if route in ROUTE_NAMES:
            response = await _through_gateway(request, handler, route)
        else:
            response = await run_handler(handler, request)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            # The API gateway does not tell a wrong method from a wrong path.
            response = gateway_error(
                404, "APIGW.0101", "The API does not exist or has not been published in the environment", rid
            )
        else:
            response = json_answer({"error_code": f"HTTP.{exc.status}", "error_msg": exc.reason}, status=exc.status)
    response.headers["X-Request-Id"] = rid
    response.headers["Server"] = "api-gateway"  # what Huawei's gateway calls itself
    return response
