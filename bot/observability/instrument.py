"""The hooks that feed the logs and the metrics, wired in by the composition root (bot.app): the core modules
call no metric themselves.

- DDM: httpx event hooks on the DdmClient (route, status, latency, DDM's request id; the IAM token sent is
  remembered by the redactor);
- Slack: a retry handler that never retries but sees every Web API attempt (bolt copies it into the clients it
  makes per request);
- the store: a ChangeObserver it calls after each committed change of state (count, one log line, the figures
  of each restore): the store knows only the observer port (bot.ports.ChangeObserver);
- decisions: approvals and refusals by reason, in a decorator of the workflow's desk (bot.ports.RequestDesk).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from prometheus_client import Histogram
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.errors import Refusal
from bot.huawei.auth import TOKEN_HEADER
from bot.huawei.errors import REQUEST_ID_HEADERS
from bot.observability.context import about_request
from bot.observability.metrics import Metrics
from bot.observability.redact import REDACTOR
from bot.ports import RequestDesk, RequestPage
from bot.restore.checks import PlanProblem
from bot.restore.environment import Standing
from bot.restore.figures import EnvironmentStats, figures_of
from bot.restore.flow import Flow
from bot.restore.lifecycle import Event
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RestoreRequest

log = logging.getLogger("bot.ddm")
transitions_log = logging.getLogger("bot.requests")
_STARTED = "ddm_restore_bot_started"
_ID_AFTER = {"instances": "{instance_id}", "jobs": "{job_id}"}
_JOB_ENDS = {Event.JOB_COMPLETED.value: "completed", Event.JOB_FAILED.value: "failed"}


def ddm_route(path: str) -> str:
    """`/v3/<project>/instances/<id>/backups/recovery` -> `/v3/{project_id}/instances/{instance_id}/backups/recovery`:
    a label of bounded cardinality."""
    parts = path.split("/")
    for index in range(1, len(parts)):
        if index == 2 and parts[1].startswith("v") and parts[index]:
            parts[index] = "{project_id}"
        elif parts[index - 1] in _ID_AFTER and parts[index] and index > 2:
            parts[index] = _ID_AFTER[parts[index - 1]]
    return "/".join(parts)


def ddm_request_id(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if value := response.headers.get(name):
            return str(value)
    return None


class DdmObserver:
    """httpx hooks for the DdmClient: they run for every request sent (pages, retries, a 401's repeat)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics

    async def on_request(self, request: httpx.Request) -> None:
        REDACTOR.remember(request.headers.get(TOKEN_HEADER))
        request.extensions[_STARTED] = time.perf_counter()

    async def on_response(self, response: httpx.Response) -> None:
        request = response.request
        started = request.extensions.get(_STARTED)
        seconds = time.perf_counter() - started if isinstance(started, float) else 0.0
        route = ddm_route(request.url.path)
        status = response.status_code
        request_id = ddm_request_id(response)
        if self.metrics is not None:
            self.metrics.ddm_calls.labels(route, request.method, str(status)).inc()
            self.metrics.ddm_latency.labels(route, request.method).observe(seconds)
            if status < 500 and status not in (401, 403, 429):
                self.metrics.ddm_answered()
        level = logging.DEBUG if request.method == "GET" and status < 400 else logging.INFO
        log.log(
            level,
            "DDM %s %s -> %s in %.0f ms (DDM request id %s)",
            request.method,
            route,
            status,
            seconds * 1000,
            request_id or "none",
            extra={
                "ddm_route": route,
                "ddm_status": status,
                "ddm_request_id": request_id,
                "duration_ms": round(seconds * 1000, 1),
            },
        )

    def hooks(self) -> dict[str, list[Callable[..., Awaitable[None]]]]:
        return {"request": [self.on_request], "response": [self.on_response]}


class SlackCallObserver(AsyncRetryHandler):
    """Counts every Web API attempt and its error, by method; never asks for a retry (put it first)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = str(request.url).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "unknown"
        self.metrics.slack_calls.labels(method).inc()
        failure: str | None = None
        if error is not None:
            failure = type(error).__name__
        elif response is not None:
            body = response.body if isinstance(response.body, dict) else {}
            if response.status_code != 200 or body.get("ok") is False:
                failure = str(body.get("error") or f"http_{response.status_code}")
        if failure is not None:
            self.metrics.slack_errors.labels(method, failure).inc()
        return False


class ChangeLog:
    """A ChangeObserver of the store (bot.ports): after each committed change of state, its count, one log line,
    and the figures of the restore it made known (bot.restore.figures)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, change: str, request: RestoreRequest) -> None:
        self.metrics.transitions.labels(change).inc()
        with about_request(request.id):
            transitions_log.info(
                "%s %s -> %s",
                request.id,
                change,
                request.state.value,
                extra={"event": change, "state": request.state.value},
            )
        self._figures(change, request)
        if request.plan.drill and request.is_final:
            self.metrics.drill_outcomes.labels(request.plan.drill, request.state.value.lower()).inc()

    def _figures(self, change: str, request: RestoreRequest) -> None:
        """Each figure of a restore once, at the change that makes it known (a change happens exactly once)."""
        figures, m, env = figures_of(request), self.metrics, request.plan.environment
        observed: list[tuple[Histogram, timedelta | None]] = []
        if change == Event.APPROVED.value:
            observed.append((m.to_approval.labels(env), figures.to_approval))
        elif change == Event.SUBMIT.value:
            observed.append((m.restore_point_lag.labels(env), figures.restore_point_lag))
        elif change in (Event.JOB_SUBMITTED.value, Event.RECONCILED.value):
            observed.append((m.to_job_start.labels(env), figures.to_job_start))
        elif change in _JOB_ENDS:
            observed.append((m.job_duration.labels(env, _JOB_ENDS[change]), figures.job))
            observed.append((m.time_to_restore.labels(env), figures.time_to_restore))
        for histogram, value in observed:
            if value is not None:
                histogram.observe(value.total_seconds())


class MeasuredDesk:
    """The workflow's RequestDesk (bot.ports) with its decisions measured: approvals counted, refusals counted by
    action and code, and every log line inside a decision carrying the request id. Wraps another desk."""

    def __init__(self, desk: RequestDesk, metrics: Metrics) -> None:
        self._desk = desk
        self._metrics = metrics

    def new_plan(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        mappings: tuple[DataNodeMapping, ...],
        reason: str = "",
        channel_id: str = "",
        urgent_incident: str = "",
    ) -> RestorePlan:
        return self._desk.new_plan(
            source=source,
            target=target,
            restore_time_ms=restore_time_ms,
            mappings=mappings,
            reason=reason,
            channel_id=channel_id,
            urgent_incident=urgent_incident,
        )

    async def check_plan_live(self, plan: RestorePlan) -> list[PlanProblem]:
        return await self._desk.check_plan_live(plan)

    async def precheck_create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        with self._refusals("request"):
            await self._desk.precheck_create(plan, requester_id=requester_id, channel_id=channel_id)

    async def flow_for(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        data_nodes: int,
        requester_id: str,
        channel_id: str,
    ) -> Flow:
        # A rule's refusal here is shown in the form, and counted when the person submits it anyway.
        return await self._desk.flow_for(
            source=source,
            target=target,
            restore_time_ms=restore_time_ms,
            data_nodes=data_nodes,
            requester_id=requester_id,
            channel_id=channel_id,
        )

    async def create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> RestoreRequest:
        with self._refusals("request"):
            return await self._desk.create(plan, requester_id=requester_id, channel_id=channel_id)

    async def approve(self, request_id: str, user_id: str) -> None:
        with about_request(request_id), self._refusals("approve"):
            await self._desk.approve(request_id, user_id)
        self._metrics.approvals.inc()

    async def check_reject(self, request_id: str, user_id: str) -> None:
        with about_request(request_id), self._refusals("reject"):
            await self._desk.check_reject(request_id, user_id)

    async def reject(self, request_id: str, user_id: str, reason: str) -> None:
        with about_request(request_id), self._refusals("reject"):
            await self._desk.reject(request_id, user_id, reason)

    async def cancel(self, request_id: str, user_id: str) -> None:
        with about_request(request_id), self._refusals("cancel"):
            await self._desk.cancel(request_id, user_id)

    async def review(self, request_id: str, user_id: str) -> None:
        with about_request(request_id), self._refusals("review"):
            await self._desk.review(request_id, user_id)

    async def standing(self, user_id: str, channel_id: str) -> Standing:
        return await self._desk.standing(user_id, channel_id)

    async def nudge(self, request_id: str, user_id: str) -> None:
        with about_request(request_id), self._refusals("nudge"):
            await self._desk.nudge(request_id, user_id)

    async def find(self, reference: str) -> RestoreRequest | None:
        return await self._desk.find(reference)

    async def recent(self, limit: int = 10, *, channel_id: str | None = None) -> list[RestoreRequest]:
        return await self._desk.recent(limit, channel_id=channel_id)

    async def history(self, days: int, *, channel_ids: Collection[str] | None, page: int = 1) -> RequestPage:
        with self._refusals("history"):
            return await self._desk.history(days, channel_ids=channel_ids, page=page)

    async def stats(self, days: int) -> list[EnvironmentStats]:
        with self._refusals("stats"):
            return await self._desk.stats(days)

    @contextmanager
    def _refusals(self, action: str) -> Iterator[None]:
        try:
            yield
        except Refusal as refusal:
            self._metrics.refusals.labels(action, refusal.code).inc()
            raise
