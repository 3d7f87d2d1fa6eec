"""The hooks that feed the logs and the metrics, wired in by the composition root (bot.app): the core modules
call no metric themselves.

- DDM: httpx event hooks on the DdmClient (route, status, latency, DDM's request id; the IAM token sent is
  remembered by the redactor);
- Slack: a retry handler that never retries but sees every Web API attempt (bolt copies it into the clients it
  makes per request);
- the store: after each committed transition (count, one log line, job durations), around its create,
  transition and approve (so the store itself knows nothing of it);
- decisions: approvals and refusals by reason, around the workflow's approve/reject/cancel/create.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.huawei.auth import TOKEN_HEADER
from bot.huawei.errors import REQUEST_ID_HEADERS
from bot.observability.context import about_request
from bot.observability.metrics import Metrics
from bot.observability.redact import REDACTOR
from bot.restore.lifecycle import Event
from bot.restore.request import RestoreRequest

log = logging.getLogger("bot.ddm")
transitions_log = logging.getLogger("bot.requests")
_STARTED = "ddm_restore_bot_started"
_ID_AFTER = {"instances": "{instance_id}", "jobs": "{job_id}"}


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


def on_transition(metrics: Metrics) -> Callable[[str, RestoreRequest], None]:
    """The store's callback after each committed transition: the count, a log line, the job's duration."""

    def observe(event: str, request: RestoreRequest) -> None:
        try:
            _observe(event, request)
        except Exception:  # the transition is committed: an observer's slip must not look like its failure
            transitions_log.exception("observing %s of %s failed", event, request.id)

    def _observe(event: str, request: RestoreRequest) -> None:
        metrics.transitions.labels(event).inc()
        with about_request(request.id):
            transitions_log.info(
                "%s %s -> %s",
                request.id,
                event,
                request.state.value,
                extra={"event": event, "state": request.state.value},
            )
        if (
            event in (Event.JOB_COMPLETED.value, Event.JOB_FAILED.value)
            and request.submitted_at
            and request.finished_at
        ):
            outcome = "completed" if event == Event.JOB_COMPLETED.value else "failed"
            metrics.job_duration.labels(outcome).observe(
                max(0.0, (request.finished_at - request.submitted_at).total_seconds())
            )

    return observe


def observe_transitions(store: Any, metrics: Metrics) -> None:
    """Wrap the store's changes (bot.store.requests.RequestStore) in place: `observe` runs after each one
    that committed a transition (the lifecycle's events, and `create`)."""
    observe = on_transition(metrics)
    create, transition, approve = store.create, store.transition, store.approve

    @functools.wraps(create)
    async def created(*args: Any, **kwargs: Any) -> Any:
        request = await create(*args, **kwargs)
        observe("create", request)
        return request

    @functools.wraps(transition)
    async def moved(request_id: str, event: Event, *args: Any, **kwargs: Any) -> Any:
        request = await transition(request_id, event, *args, **kwargs)
        if request is not None:
            observe(Event(event).value, request)
        return request

    @functools.wraps(approve)
    async def approved(*args: Any, **kwargs: Any) -> Any:
        outcome = await approve(*args, **kwargs)
        if getattr(outcome, "approved", False):
            observe(Event.APPROVED.value, outcome.request)
        return outcome

    store.create, store.transition, store.approve = created, moved, approved


def observe_decisions(service: Any, metrics: Metrics) -> None:
    """Wrap the workflow's decisions (bot.workflow.requests.Requests) in place: approvals counted, refusals
    counted by reason, and every log line inside carries the request id."""

    def decision(action: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def wrapper(request_id: str, *args: Any, **kwargs: Any) -> Any:
            with about_request(request_id):
                refusal = await method(request_id, *args, **kwargs)
            if refusal is not None:
                metrics.refusals.labels(action, str(getattr(refusal, "code", "refused"))).inc()
            elif action == "approve":
                metrics.approvals.inc()
            return refusal

        return wrapper

    def creation(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except Exception as exc:
                if hasattr(exc, "field") and hasattr(exc, "message"):  # WorkflowRefused
                    field = getattr(exc, "field", None)
                    metrics.refusals.labels("request", f"plan:{field}" if field else "policy").inc()
                raise

        return wrapper

    for name, action in (
        ("approve", "approve"),
        ("check_reject", "reject"),
        ("reject", "reject"),
        ("cancel", "cancel"),
    ):
        setattr(service, name, decision(action, getattr(service, name)))
    service.precheck_create = creation(service.precheck_create)
    service.create = creation(service.create)
