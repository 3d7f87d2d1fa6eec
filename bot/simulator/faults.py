"""Fault injection and added latency, per route, for tests and drills (driven through ``/_sim/faults``).

Kinds (``execute`` = the service does the work first, then the failure happens on the way back):

- ``500``: 500 ``DBS.200412`` Server failure. With ``execute`` the call is carried out first.
- ``429``: 429 ``APIGW.0308`` with ``Retry-After`` (throttled at the gateway: never executed).
- ``timeout``: hang ``delay_seconds`` (default 30), then 504 ``APIGW.0202`` Backend timeout (unverified code).
  Without ``execute`` nothing was done; with it the call was carried out (e.g. the restore job exists) but the
  client never hears the answer.
- ``malformed``: the call is carried out, then answered 200 with its JSON body cut in half.
- ``html``: 502 with an HTML error page, as a proxy in front of the service would answer. ``execute`` as above.
- ``hold``: park the call until ``POST /_sim/release``. Without ``execute`` the call is carried out after the
  release (whether or not the client still waits); with it, carried out first, then parked, then answered.

A fault for route ``*`` matches every API route (IAM token and DDM). Faults are used oldest first; each one
answers ``count`` calls. Authentication is checked before faults, so a rejected call never consumes one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from bot.errors import PersonError

ROUTE_NAMES = (
    "iam_token",
    "list_instances",
    "restorable_time_interval",
    "restorable_instances",
    "related_dn",
    "restorable_data_node",
    "recovery",
    "job",
    "jobs",
    "instance",
    "databases",
)
ANY_ROUTE = "*"
FAULT_KINDS = ("400", "500", "429", "timeout", "malformed", "html", "hold")


class FaultSpecError(PersonError, ValueError):
    """A fault or latency request is not valid; the message says why."""


@dataclass
class Fault:
    route: str
    kind: str
    count: int = 1
    delay_seconds: float = 30.0
    retry_after: int = 1
    execute: bool = False
    # For kind "400": the refusal the service gives (default: the seed's parameter error).
    error_code: str = "DBS.280001"
    error_msg: str = "Parameter error."

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _route(value: object) -> str:
    if value != ANY_ROUTE and value not in ROUTE_NAMES:
        raise FaultSpecError(f"route must be one of {', '.join((*ROUTE_NAMES, ANY_ROUTE))}")
    assert isinstance(value, str)
    return value


def _number(data: dict[str, Any], key: str, default: float, *, minimum: float = 0.0) -> float:
    value = data.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < minimum:
        raise FaultSpecError(f"{key} must be a number >= {minimum:g}")
    return float(value)


def parse_fault(data: object) -> Fault:
    if not isinstance(data, dict):
        raise FaultSpecError("body must be a JSON object")
    known = {"route", "kind", "count", "delay_seconds", "retry_after", "execute", "error_code", "error_msg"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FaultSpecError(f"unknown field(s): {', '.join(unknown)}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise FaultSpecError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultSpecError("count must be an integer >= 1")
    retry_after = data.get("retry_after", 1)
    if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0:
        raise FaultSpecError("retry_after must be an integer >= 0")
    execute = data.get("execute", False)
    if not isinstance(execute, bool):
        raise FaultSpecError("execute must be true or false")
    error_code = data.get("error_code", "DBS.280001")
    error_msg = data.get("error_msg", "Parameter error.")
    if not isinstance(error_code, str) or not isinstance(error_msg, str):
        raise FaultSpecError("error_code and error_msg must be strings")
    return Fault(
        error_code=error_code,
        error_msg=error_msg,
        route=_route(data.get("route")),
        kind=kind,
        count=count,
        delay_seconds=_number(data, "delay_seconds", 30.0),
        retry_after=retry_after,
        execute=execute,
    )


def parse_latency(data: object) -> tuple[str, float]:
    if not isinstance(data, dict):
        raise FaultSpecError("body must be a JSON object")
    return _route(data.get("route")), _number(data, "seconds", 0.0)


class FaultBook:
    """Pending faults, per-route latency, and the parked (``hold``) calls."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.latency: dict[str, float] = {}
        self.held = 0
        self._release = asyncio.Event()
        self._closing = asyncio.Event()

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()
        self.latency.clear()

    def take(self, route: str) -> Fault | None:
        """The oldest fault matching ``route`` (or ``*``), counted as used once."""
        for fault in self.faults:
            if fault.route in (route, ANY_ROUTE):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def set_latency(self, route: str, seconds: float) -> None:
        if seconds <= 0:
            self.latency.pop(route, None)
        else:
            self.latency[route] = seconds

    def latency_for(self, route: str) -> float:
        return self.latency.get(route, 0.0) + self.latency.get(ANY_ROUTE, 0.0)

    def release(self) -> int:
        """Let every parked call go on; returns how many were parked."""
        released = self.held
        self._release.set()
        self._release = asyncio.Event()
        return released

    def close(self) -> None:
        """Server shutting down: stop every wait at once so the server can stop promptly."""
        self._closing.set()
        self._release.set()

    async def wait_released(self) -> None:
        event = self._release
        self.held += 1
        try:
            await _first(event.wait(), self._closing.wait())
        finally:
            self.held -= 1

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    def to_json(self) -> dict[str, Any]:
        return {"faults": [f.to_json() for f in self.faults], "latency": dict(self.latency), "held": self.held}


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
