"""Prometheus metrics, one registry per Runtime (tests build many runtimes in one process).

Counters and histograms are fed by hooks (bot.observability.instrument); the gauges that describe shared
state (requests by state, the outbox, the DDM call budget) are read from the store when /metrics is asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.restore.request import RequestState

if TYPE_CHECKING:
    from bot.huawei.budget import CallBudget
    from bot.restore.drills import DrillStatus
    from bot.store.sql_store import RequestStore

Health = Callable[[], tuple[bool, dict[str, Any]]]
DrillStatuses = Callable[[], Awaitable["list[DrillStatus]"]]

log = logging.getLogger(__name__)
PREFIX = "ddm_restore_bot"
SCRAPE_TIMEOUT_SECONDS = 5.0
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
DDM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The figures of a restore (bot.restore.figures): seconds (a prompt submit) to hours (approvals, jobs) and days
# (an old restore point).
FIGURE_BUCKETS = (
    1.0,
    5.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
    259200.0,
    604800.0,
)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        if registry is None:  # the process's own figures (memory, CPU, open files, GC), as the default registry has
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                r.register(collector)
        p = PREFIX
        # ---- requests --------------------------------------------------------------------------------------
        self.requests = Gauge(
            f"{p}_requests", "Restore requests by state (all replicas: read from the store)", ["state"], registry=r
        )
        self.transitions = Counter(
            f"{p}_transitions", "Request transitions made by this replica, by event", ["event"], registry=r
        )
        self.approvals = Counter(f"{p}_approvals", "Approvals counted by this replica", registry=r)
        self.refusals = Counter(
            f"{p}_refusals", "Refused requests and clicks, by action and reason", ["action", "reason"], registry=r
        )
        # The figures of each restore (bot.restore.figures), by environment ("" for the settings' one).
        self.to_approval = Histogram(
            f"{p}_request_to_approval_seconds",
            "From a request to its last approval needed",
            ["environment"],
            buckets=FIGURE_BUCKETS,
            registry=r,
        )
        self.to_job_start = Histogram(
            f"{p}_approval_to_job_start_seconds",
            "From the approval to DDM accepting the restore job",
            ["environment"],
            buckets=FIGURE_BUCKETS,
            registry=r,
        )
        self.job_duration = Histogram(
            f"{p}_job_duration_seconds",
            "Restore jobs from their start to their end, by outcome",
            ["environment", "outcome"],
            buckets=FIGURE_BUCKETS,
            registry=r,
        )
        self.restore_point_lag = Histogram(
            f"{p}_restore_point_lag_seconds",
            "How far before its submission a restore's restore point was",
            ["environment"],
            buckets=FIGURE_BUCKETS,
            registry=r,
        )
        self.time_to_restore = Histogram(
            f"{p}_time_to_restore_seconds",
            "Completed restores from the request to the job's end (the measured RTO)",
            ["environment"],
            buckets=FIGURE_BUCKETS,
            registry=r,
        )
        # ---- drills (bot.workflow.drills) -------------------------------------------------------------------
        self.drill_outcomes = Counter(
            f"{p}_drill_outcomes",
            "Drill slots this replica claimed by outcome (requested, missed, no_target, failed), and drill requests "
            "it ended (verified, verify_failed, failed, …)",
            ["drill", "outcome"],
            registry=r,
        )
        self.drill_last_success = Gauge(
            f"{p}_drill_last_success_timestamp_seconds",
            "When each drill's newest verified restore ended (all replicas: read from the store; 0: none yet)",
            ["drill"],
            registry=r,
        )
        self.drill_targets_left = Gauge(
            f"{p}_drill_targets_left",
            "Targets of each drill's pool DDM lists as usable, as last asked",
            ["drill"],
            registry=r,
        )
        # ---- DDM -------------------------------------------------------------------------------------------
        self.ddm_calls = Counter(
            f"{p}_ddm_calls", "DDM HTTP calls by route, method and status", ["route", "method", "status"], registry=r
        )
        self.ddm_latency = Histogram(
            f"{p}_ddm_call_seconds",
            "DDM HTTP call latency by route",
            ["route", "method"],
            buckets=DDM_BUCKETS,
            registry=r,
        )
        self.ddm_budget_used = Gauge(
            f"{p}_ddm_budget_used", "DDM calls counted in the current minute, all replicas", registry=r
        )
        self.ddm_budget_limit = Gauge(
            f"{p}_ddm_budget_limit", "DDM calls allowed per minute (DDM_CALLS_PER_MINUTE)", registry=r
        )
        self.ddm_last_answer = Gauge(
            f"{p}_ddm_last_answer_timestamp_seconds", "When DDM last answered this replica", registry=r
        )
        # ---- Slack -----------------------------------------------------------------------------------------
        self.slack_calls = Counter(
            f"{p}_slack_api_calls", "Slack Web API calls (each attempt) by method", ["method"], registry=r
        )
        self.slack_errors = Counter(
            f"{p}_slack_api_errors", "Slack Web API errors by method and error", ["method", "error"], registry=r
        )
        self.ack_latency = Histogram(
            f"{p}_ack_seconds",
            "From a Slack request's arrival to its ack, by mode and kind",
            ["mode", "kind"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.socket_reconnects = Counter(
            f"{p}_socket_mode_reconnects", "Socket Mode reconnects by reason", ["reason"], registry=r
        )
        self.socket_connected = Gauge(
            f"{p}_socket_mode_connected", "1 while the Socket Mode connection is up", registry=r
        )
        # ---- outbox and loops ------------------------------------------------------------------------------
        self.outbox_depth = Gauge(
            f"{p}_outbox_depth", "Slack notices waiting to be delivered (all replicas)", registry=r
        )
        self.outbox_oldest_age = Gauge(
            f"{p}_outbox_oldest_age_seconds", "Age of the oldest undelivered notice (0: none)", registry=r
        )
        self.loop_healthy = Gauge(
            f"{p}_loop_healthy", "1 when a background loop is alive and cycling", ["loop"], registry=r
        )
        self.loop_age = Gauge(
            f"{p}_loop_seconds_since_cycle",
            "Seconds since a background loop last finished a cycle",
            ["loop"],
            registry=r,
        )
        self.loop_failures = Gauge(
            f"{p}_loop_failures", "Consecutive failures of a background loop", ["loop"], registry=r
        )
        self.scrape_errors = Counter(
            f"{p}_scrape_errors", "Store reads for /metrics that failed, by what", ["what"], registry=r
        )
        self._last_ddm_answer: float | None = None  # monotonic

    # ---- DDM answers (readiness) ----------------------------------------------------------------------------

    def ddm_answered(self) -> None:
        self._last_ddm_answer = time.monotonic()
        self.ddm_last_answer.set(time.time())

    def seconds_since_ddm_answer(self) -> float | None:
        return None if self._last_ddm_answer is None else time.monotonic() - self._last_ddm_answer

    # ---- a scrape ------------------------------------------------------------------------------------------

    async def render(
        self, *, health: Health, store: RequestStore, budget: CallBudget | None, drills: DrillStatuses | None = None
    ) -> bytes:
        """The exposition text, after reading the shared gauges from the store (each read bounded in time)."""
        await self.refresh(health=health, store=store, budget=budget, drills=drills)
        return generate_latest(self.registry)

    async def refresh(
        self, *, health: Health, store: RequestStore, budget: CallBudget | None, drills: DrillStatuses | None = None
    ) -> None:
        _ok, loops = health()
        for name, value in loops.items():
            entry: dict[str, Any] = value if isinstance(value, dict) else {}
            self.loop_healthy.labels(name).set(1 if entry.get("ok") else 0)
            self.loop_age.labels(name).set(float(entry.get("seconds_since_cycle") or 0.0))
            self.loop_failures.labels(name).set(float(entry.get("failures") or 0))
        reads: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
            ("requests", lambda: self._requests(store)),
            ("outbox", lambda: self._outbox(store)),
            ("budget", lambda: self._budget(budget)),
            ("drills", lambda: self._drills(drills)),
        )
        for what, read in reads:
            try:
                async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS):
                    await read()
            except Exception as exc:  # the store is down: the other metrics still go out
                self.scrape_errors.labels(what).inc()
                log.debug("metrics: reading %s failed: %s", what, type(exc).__name__)

    async def _requests(self, store: RequestStore) -> None:
        counts = await store.count_by_state()
        for state in RequestState:
            self.requests.labels(state.value).set(counts.get(state.value, 0))

    async def _outbox(self, store: RequestStore) -> None:
        depth, oldest_ms = await store.outbox.depth()
        self.outbox_depth.set(depth)
        self.outbox_oldest_age.set(max(0.0, time.time() - oldest_ms / 1000) if oldest_ms is not None else 0.0)

    async def _drills(self, drills: DrillStatuses | None) -> None:
        if drills is None:
            return
        for status in await drills():
            name = status.drill.name
            success = status.last_success
            self.drill_last_success.labels(name).set(success.timestamp() if success is not None else 0)
            if status.targets_left is not None:
                self.drill_targets_left.labels(name).set(status.targets_left)

    async def _budget(self, budget: CallBudget | None) -> None:
        if budget is None:
            return
        self.ddm_budget_limit.set(budget.per_minute)
        used = getattr(budget.storage, "used", None)
        if used is not None:
            from bot.huawei.budget import minute_of

            self.ddm_budget_used.set(await used(budget.credential, minute_of(budget.now_ms())))
