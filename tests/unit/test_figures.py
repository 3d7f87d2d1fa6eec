"""The figures of a restore (bot.restore.figures): each from the times a request records, the percentiles and the
per-environment stats, how people read them, `/ddm-restore stats [days]`'s words; and the workflow stamping the
times on the in-memory store, the simulator's clock moved by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from bot.errors import Refusal
from bot.observability.instrument import ChangeLog
from bot.observability.metrics import Metrics
from bot.restore.facts import JobReport, JobStatus
from bot.restore.figures import EnvironmentStats, Figures, figures_of, percentile, stats_by_environment
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import SYSTEM, RequestState, RestoreRequest
from bot.restore.timeparse import epoch_ms_of
from bot.simulator.world import ORDERS_RESTORE_1_ID
from bot.slack.blocks.messages import figures_text, render_notice, stats_text, status_text
from bot.slack.command_text import ShowHelp, ShowStats, parse_command
from tests.support.bench import CHANNEL, Bench

S = RequestState
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
PLAN = RestorePlan(
    project_id="p1",
    source=NamedRef(id="srcin09", name="orders-prod"),
    target=NamedRef(id="tgtin09", name="orders-restore-1"),
    restore_time_ms=epoch_ms_of(T0 - 120 * M),  # two hours before the request
    mappings=(DataNodeMapping(source=NamedRef(id="s1in01"), target=NamedRef(id="t1in01")),),
)


def request(state: RequestState = S.COMPLETED, *, environment: str = "", **times: Any) -> RestoreRequest:
    """A request made at T0, with the times given (as offsets from T0) and the rest unknown."""
    plan = PLAN.model_copy(update={"environment": environment})
    return RestoreRequest(
        id="R-7F3A2B",
        plan=plan,
        fingerprint=plan.fingerprint(),
        requester_id="UALICE",
        channel_id=CHANNEL,
        state=state,
        required_approvals=1,
        created_at=T0,
        expires_at=T0 + 60 * M,
        updated_at=T0,
        job_id="job-1" if "job_started_at" in times else None,
        **{name: T0 + offset for name, offset in times.items()},
    )


def restored(
    state: RequestState = S.COMPLETED,
    *,
    environment: str = "",
    approved: timedelta = 5 * M,
    start: timedelta = 10 * M,
    end: timedelta = 40 * M,
) -> RestoreRequest:
    """A restore that ran: approved, submitted at the job's start, finished."""
    return request(
        state,
        environment=environment,
        approved_at=approved,
        submitted_at=start,
        job_started_at=start,
        finished_at=end,
    )


# ---- each restore's figures -----------------------------------------------------------------------------------


def test_each_figure_is_the_span_between_its_two_times() -> None:
    figures = figures_of(
        request(approved_at=5 * M, submitted_at=5 * M + timedelta(seconds=2), job_started_at=6 * M, finished_at=40 * M)
    )
    assert figures == Figures(
        to_approval=5 * M,
        to_job_start=M,
        job=34 * M,
        restore_point_lag=125 * M + timedelta(seconds=2),
        time_to_restore=40 * M,
    )


def test_a_figure_is_unknown_until_both_its_times_are() -> None:
    pending = figures_of(request(S.PENDING))
    assert pending == Figures() and not pending.known
    submitting = figures_of(request(S.SUBMITTING, approved_at=5 * M, submitted_at=6 * M))
    assert submitting == Figures(to_approval=5 * M, restore_point_lag=126 * M) and submitting.known


def test_time_to_restore_is_only_of_a_completed_restore() -> None:
    failed = figures_of(restored(S.FAILED))
    assert failed.time_to_restore is None and failed.job == 30 * M
    never_ran = figures_of(request(S.FAILED, approved_at=5 * M, submitted_at=6 * M, finished_at=7 * M))
    assert never_ran.time_to_restore is None and never_ran.job is None and never_ran.to_job_start is None


def test_a_span_made_negative_by_two_clocks_is_zero() -> None:
    # DDM's end time in whole seconds, before our clock's record of the job's start.
    figures = figures_of(restored(start=10 * M + timedelta(milliseconds=400), end=10 * M))
    assert figures.job == timedelta(0) and figures.time_to_restore == 10 * M


# ---- percentiles and the stats ------------------------------------------------------------------------------


def seconds(*values: int) -> list[timedelta]:
    return [timedelta(seconds=v) for v in values]


def test_percentiles_by_nearest_rank_are_always_one_of_the_values() -> None:
    assert percentile([], 50) is None
    assert [percentile(seconds(7), p) for p in (1, 50, 90, 100)] == seconds(7, 7, 7, 7)
    assert [percentile(seconds(20, 10), p) for p in (50, 51, 90)] == seconds(10, 20, 20)
    ten = seconds(10, 1, 9, 2, 8, 3, 7, 4, 6, 5)
    assert [percentile(ten, p) for p in (10, 50, 90, 91, 100)] == seconds(1, 5, 9, 10, 10)
    for wrong in (0, -5, 100.5):
        with pytest.raises(ValueError, match="a percentile is in"):
            percentile(ten, wrong)


def test_stats_are_by_environment_over_the_completed_restores() -> None:
    requests = [
        restored(environment="prod", end=30 * M),
        restored(environment="prod", end=50 * M, start=12 * M),
        restored(environment="prod", end=90 * M, approved=35 * M, start=40 * M),
        restored(S.FAILED, environment="prod", end=500 * M),  # counted, not measured
        restored(environment="", end=20 * M),
        restored(S.FAILED, environment="staging"),
        request(S.CANCELLED, environment="staging"),  # not a finished restore
    ]
    prod, default, staging = (
        EnvironmentStats("prod", 3, 1, 50 * M, 90 * M, 5 * M, 5 * M, 38 * M, 132 * M),
        EnvironmentStats("", 1, 0, 20 * M, 20 * M, 5 * M, 5 * M, 10 * M, 130 * M),
        EnvironmentStats("staging", 0, 1, None, None, None, None, None, None),
    )
    assert stats_by_environment(requests) == [default, prod, staging]
    assert stats_by_environment([]) == []


# ---- how people read them ----------------------------------------------------------------------------------


def test_the_figures_line_names_what_is_known() -> None:
    full = figures_of(restored(end=52 * M + timedelta(seconds=3)))
    assert figures_text(full) == (
        "⏱ Time to restore 52m03s · request → approval 5m00s · approval → job start 5m00s · job 42m03s"
        " · restore point lag 2h10m00s"
    )
    partial = figures_of(request(S.SUBMITTING, approved_at=timedelta(seconds=40), submitted_at=M))
    assert figures_text(partial) == "⏱ Request → approval 40s · restore point lag 2h01m00s"
    assert figures_text(Figures()) == ""


def test_the_final_message_and_status_carry_the_figures() -> None:
    done = restored(end=45 * M)
    line = "⏱ Time to restore 45m00s · request → approval 5m00s · approval → job start 5m00s · job 35m00s"
    final = render_notice(done, Notice.FINAL, {})
    assert final.startswith("✅ Restore completed in 35m00s.") and final.endswith(
        f"\n{line} · restore point lag 2h10m00s"
    )
    assert status_text(done).endswith(f"\n{line} · restore point lag 2h10m00s")
    failed = render_notice(restored(S.FAILED, end=45 * M), Notice.FINAL, {})
    assert "failed in 35m00s" in failed and failed.endswith(
        "\n⏱ Request → approval 5m00s · approval → job start 5m00s · job 35m00s · restore point lag 2h10m00s"
    )
    assert "⏱" not in status_text(request(S.PENDING))
    assert "⏱" not in render_notice(request(S.CANCELLED), Notice.FINAL, {})


def test_the_stats_text() -> None:
    def label(name: str) -> str:
        return {"prod": "prod (cn-north-4)", "": "cn-north-4"}.get(name, f"<!here> {name}")

    stats = stats_by_environment([restored(environment="prod"), restored(S.FAILED, environment="evil")])
    assert stats_text(stats, days=30, label=label) == (
        "*Restores finished in the last 30 days* (figures over the completed ones; the README defines them)\n"
        "• *&lt;!here&gt; evil*: 0 completed, 1 failed · no completed restore to measure\n"
        "• *prod (cn-north-4)*: 1 completed, 0 failed · time to restore p50 40m00s, p90 40m00s · p50 request → "
        "approval 5m00s, approval → job start 5m00s, job 30m00s, restore point lag 2h10m00s"
    )
    assert stats_text([], days=1, label=label) == "No restores finished in the last day."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stats", ShowStats(30)),
        ("  STATS  ", ShowStats(30)),
        ("stats 7", ShowStats(7)),
        ("stats 1", ShowStats(1)),
        ("stats 365", ShowStats(365)),
        ("stats 0", ShowHelp("`stats` takes a number of days from 1 to 365 (got “0”).")),
        ("stats 366", ShowHelp("`stats` takes a number of days from 1 to 365 (got “366”).")),
        ("stats -3", ShowHelp("`stats` takes a number of days from 1 to 365 (got “-3”).")),
        ("stats 7d", ShowHelp("`stats` takes a number of days from 1 to 365 (got “7d”).")),
        ("stats 7 8", ShowHelp("`stats` takes a number of days from 1 to 365 (got “7 8”).")),
        ("stats ٣", ShowHelp("`stats` takes a number of days from 1 to 365 (got “٣”).")),
        ("stats " + "9" * 5000, ShowHelp("`stats` takes a number of days from 1 to 365 (got “" + "9" * 79 + "…”).")),
        ("stats <!channel>", ShowHelp("`stats` takes a number of days from 1 to 365 (got “&lt;!channel&gt;”).")),
    ],
)
def test_stats_takes_a_number_of_days(text: str, expected: object) -> None:
    assert parse_command(text) == expected


# ---- the workflow stamps the times ----------------------------------------------------------------------------


async def test_a_restore_s_figures_are_its_workflow_s_times(bench: Bench) -> None:
    """Requested at t0, approved 4 min later, submitted 7 s after that (the re-check), the simulator's job of 20 s:
    every figure exact, on the final message, in status, in the stats and in the histograms."""
    bench.clock.now = bench.clock.now.replace(microsecond=0)  # DDM's times are in whole seconds
    t0 = bench.clock.now
    request_ = await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)
    assert request_.plan.restore_time_ms == epoch_ms_of(t0 - 6 * M)  # the window's end (5 min back), 1 min before

    async def recheck_then_submit(approved: RestoreRequest) -> object:
        bench.clock.advance(timedelta(seconds=7))
        return await bench.submitter.submit(approved)

    bench.clock.advance(4 * M)
    await bench.desk_submitting_with(recheck_then_submit).approve(request_.id, "UBOB")
    bench.clock.advance(timedelta(seconds=30))
    await bench.follower.step()
    done = await bench.store.get(request_.id)
    assert done is not None and done.state is S.VERIFYING  # the job completed; its verification follows
    assert (done.approved_at, done.submitted_at, done.job_started_at, done.finished_at) == (
        t0 + 4 * M,
        t0 + 4 * M + timedelta(seconds=7),
        t0 + 4 * M + timedelta(seconds=7),
        t0 + 4 * M + timedelta(seconds=27),  # the job's end as DDM says: its creation and 20 s
    )
    line = (
        "⏱ Time to restore 4m27s · request → approval 4m00s · approval → job start 7s · job 20s"
        " · restore point lag 10m07s"
    )
    assert render_notice(done, Notice.JOB_DONE, {}).endswith(f"\n{line}") and status_text(done).endswith(f"\n{line}")

    (stats,) = await bench.desk.stats(1)
    took = timedelta(seconds=267)
    assert stats == EnvironmentStats(
        "", 1, 0, took, took, 4 * M, timedelta(seconds=7), timedelta(seconds=20), timedelta(seconds=607)
    )
    bench.clock.advance(timedelta(days=1))
    assert await bench.desk.stats(1) == [] and len(await bench.desk.stats(2)) == 1
    for wrong in (0, 366):
        with pytest.raises(Refusal, match="Give a number of days from 1 to 365"):
            await bench.desk.stats(wrong)

    # Each change's figure goes to its histogram once: the observer told of each change as the store tells it.
    metrics = Metrics(CollectorRegistry())
    observe = ChangeLog(metrics)
    for change in ("create", "approved", "submit", "job_submitted", "progress", "job_completed"):
        observe(change, done)

    def observed(name: str, **labels: str) -> tuple[float | None, float | None]:
        def value(suffix: str) -> float | None:
            return metrics.registry.get_sample_value(f"ddm_restore_bot_{name}_seconds_{suffix}", labels)

        return value("count"), value("sum")

    assert observed("request_to_approval", environment="") == (1.0, 240.0)
    assert observed("approval_to_job_start", environment="") == (1.0, 7.0)
    assert observed("restore_point_lag", environment="") == (1.0, 607.0)
    assert observed("job_duration", environment="", outcome="completed") == (1.0, 20.0)
    assert observed("time_to_restore", environment="") == (1.0, 267.0)


async def test_a_reconciled_job_started_when_ddm_made_it(bench: Bench) -> None:
    """The answer to the POST was lost: the job's start is its creation in DDM's job list, not when it was found."""
    request_ = await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)

    async def no_submit(approved: RestoreRequest) -> None:
        return None

    await bench.desk_submitting_with(no_submit).approve(request_.id, "UBOB")
    submitted = bench.clock()
    await bench.store.transition(
        request_.id, Event.SUBMIT, actor=SYSTEM, now=submitted, values={"submitted_ms": epoch_ms_of(submitted)}
    )
    unknown = await bench.store.transition(request_.id, Event.OUTCOME_UNKNOWN, actor=SYSTEM, now=submitted)
    assert unknown is not None
    bench.clock.advance(3 * M)
    made = submitted.replace(microsecond=0) + timedelta(seconds=2)
    job = JobReport(
        id="job-9",
        status=JobStatus.RUNNING,
        name="RestoreInstance",
        instance_id=ORDERS_RESTORE_1_ID,
        created_ms=epoch_ms_of(made),
    )
    running = await bench.submitter.reconcile(unknown, [job])
    assert running is not None and running.state is S.RUNNING and running.job_started_at == made
    assert running.approved_at is not None and figures_of(running).to_job_start == made - running.approved_at
