"""The figures of a restore, and of many: how long each part took and how far back it went. Pure.

Per restore (`figures_of`), each from two times the request records:
- request → approval: created_at → approved_at (the move to APPROVED, with the last approval needed);
- approval → job start: approved_at → job_started_at (the re-check and the one POST, until DDM accepted the job);
- job duration: job_started_at → finished_at (the job's end as DDM reports it);
- restore-point lag: restore point → submitted_at (how much had happened since the point restored to);
- time to restore: created_at → finished_at of a completed restore: the team's measured RTO. It ends at the job's
  end; once restores are verified after the job, it can end at the verification instead.

A figure is None until both its ends are known. Times come from two clocks (ours; DDM's job end, in whole
seconds): a span that comes out negative by their skew is 0.

Over many (`stats_by_environment`): completed restores only, by environment; percentiles by nearest rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.restore.lifecycle import RequestState
from bot.restore.request import RestoreRequest
from bot.restore.timeparse import datetime_of

# `/ddm-restore stats [days]`: the window looked at, in days.
STATS_DAYS_DEFAULT = 30
STATS_DAYS_MAX = 365
_ZERO = timedelta(0)


@dataclass(frozen=True)
class Figures:
    to_approval: timedelta | None = None
    to_job_start: timedelta | None = None
    job: timedelta | None = None
    restore_point_lag: timedelta | None = None
    time_to_restore: timedelta | None = None

    @property
    def known(self) -> bool:
        """Is any figure known yet?"""
        values = (self.to_approval, self.to_job_start, self.job, self.restore_point_lag, self.time_to_restore)
        return any(value is not None for value in values)


def span(start: datetime | None, end: datetime | None) -> timedelta | None:
    """end − start, never negative; None when either is unknown."""
    if start is None or end is None:
        return None
    return max(end - start, _ZERO)


# A job that completed: the restore is done whether or not its verification has ended (or passed); time to restore
# ends at the job's end (the verification's own time is in its thread messages).
JOB_COMPLETED_STATES = frozenset(
    {RequestState.COMPLETED, RequestState.VERIFYING, RequestState.VERIFIED, RequestState.VERIFY_FAILED}
)


def figures_of(request: RestoreRequest) -> Figures:
    completed = request.state in JOB_COMPLETED_STATES
    return Figures(
        to_approval=span(request.created_at, request.approved_at),
        to_job_start=span(request.approved_at, request.job_started_at),
        job=span(request.job_started_at, request.finished_at),
        restore_point_lag=span(datetime_of(request.plan.restore_time_ms), request.submitted_at),
        time_to_restore=span(request.created_at, request.finished_at) if completed else None,
    )


# ---- over many restores ---------------------------------------------------------------------------------------


def percentile(values: Sequence[timedelta], p: float) -> timedelta | None:
    """The nearest-rank p-th percentile (0 < p ≤ 100): the smallest value with at least p % of `values` at or
    below it; always one of `values`. None for no values."""
    if not 0 < p <= 100:
        raise ValueError(f"a percentile is in (0, 100], not {p}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


@dataclass(frozen=True)
class EnvironmentStats:
    """The restores of one environment that finished in a window. Every figure is over its completed restores."""

    environment: str  # the plan's environment name ("" for the settings' one environment)
    completed: int
    failed: int
    time_to_restore_p50: timedelta | None
    time_to_restore_p90: timedelta | None
    to_approval_p50: timedelta | None
    to_job_start_p50: timedelta | None
    job_p50: timedelta | None
    restore_point_lag_p50: timedelta | None


def stats_by_environment(requests: Iterable[RestoreRequest]) -> list[EnvironmentStats]:
    """Finished requests (completed or failed; anything else is left out) by environment, named in order."""
    by_environment: dict[str, list[RestoreRequest]] = {}
    for request in requests:
        if request.state in JOB_COMPLETED_STATES or request.state is RequestState.FAILED:
            by_environment.setdefault(request.plan.environment, []).append(request)
    return [_stats(name, by_environment[name]) for name in sorted(by_environment)]


def _stats(environment: str, requests: list[RestoreRequest]) -> EnvironmentStats:
    completed = [figures_of(r) for r in requests if r.state in JOB_COMPLETED_STATES]

    def known(values: Iterable[timedelta | None]) -> list[timedelta]:
        return [value for value in values if value is not None]

    to_restore = known(f.time_to_restore for f in completed)
    return EnvironmentStats(
        environment=environment,
        completed=len(completed),
        failed=len(requests) - len(completed),
        time_to_restore_p50=percentile(to_restore, 50),
        time_to_restore_p90=percentile(to_restore, 90),
        to_approval_p50=percentile(known(f.to_approval for f in completed), 50),
        to_job_start_p50=percentile(known(f.to_job_start for f in completed), 50),
        job_p50=percentile(known(f.job for f in completed), 50),
        restore_point_lag_p50=percentile(known(f.restore_point_lag for f in completed), 50),
    )
