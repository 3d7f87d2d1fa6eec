"""The figures of each restore end to end: two restores through the bot (HTTP mode, the fake Slack, the DDM
simulator), then their figures on the final messages, in `status`, in `/ddm-restore stats` and in /metrics, each
checked against the times the store recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.restore.request import RequestState, RestoreRequest
from bot.restore.timeparse import datetime_of, duration_text
from bot.simulator.world import ORDERS_RESTORE_1_ID, ORDERS_RESTORE_3_ID
from tests.support.harness import BotHarness, running_bot

S = RequestState
P = "ddm_restore_bot"


def spans(done: RestoreRequest) -> dict[str, timedelta]:
    """Each figure of a completed restore, from its recorded times (as the README defines them)."""
    assert done.approved_at and done.submitted_at and done.job_started_at and done.finished_at
    return {
        "time to restore": done.finished_at - done.created_at,
        "request → approval": done.approved_at - done.created_at,
        "approval → job start": done.job_started_at - done.approved_at,
        "job": done.finished_at - done.job_started_at,
        "restore point lag": done.submitted_at - datetime_of(done.plan.restore_time_ms),
    }


def figures_line(done: RestoreRequest) -> str:
    text = " · ".join(f"{name} {duration_text(value)}" for name, value in spans(done).items())
    return f"⏱ {text[0].upper()}{text[1:]}"


async def answer(h: BotHarness, text: str) -> str:
    since = len(h.fake.calls)
    await h.command(text)
    call = await h.fake.wait_for("response_url:UALICE", since=since)
    assert call.args["response_type"] == "ephemeral"
    return str(call.args["text"])


def histograms(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition text, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def test_two_restores_have_their_figures_in_the_thread_status_stats_and_metrics(tmp_path: Path) -> None:
    async with running_bot(tmp_path, job_seconds=1.0) as h:
        done: list[RestoreRequest] = []
        for target in (ORDERS_RESTORE_1_ID, ORDERS_RESTORE_3_ID):
            request = await h.request_restore(target=target)
            await h.click("approve_request", request, user="UBOB")
            final = await h.wait_thread(request, "Restore completed")
            completed = await h.wait_request(lambda r: r.state in (S.VERIFYING, S.VERIFIED), request_id=request.id)
            line = figures_line(completed)
            assert final.endswith(f"\n{line}"), final
            status = await answer(h, f"status {completed.id}")
            assert status.endswith(f"\n{line}"), status
            done.append(completed)

        figures = [spans(each) for each in done]

        def nearest(name: str, rank: int) -> str:  # of two values, p50 is the smaller and p90 the larger
            return duration_text(sorted(f[name] for f in figures)[rank])

        stats = await answer(h, "stats")
        assert stats == (
            "*Restores finished in the last 30 days* (figures over the completed ones; the README defines them)\n"
            f"• *cn-north-4*: 2 completed, 0 failed · time to restore p50 {nearest('time to restore', 0)}, "
            f"p90 {nearest('time to restore', 1)} · p50 request → approval {nearest('request → approval', 0)}, "
            f"approval → job start {nearest('approval → job start', 0)}, job {nearest('job', 0)}, "
            f"restore point lag {nearest('restore point lag', 0)}"
        )
        assert await answer(h, "stats 1") == stats.replace("last 30 days", "last day")
        refused = await answer(h, "stats 400")
        assert refused.startswith("⚠️ `stats` takes a number of days from 1 to 365 (got “400”).")

        exposition = (await h.http.get(h.url.rsplit("/slack/events", 1)[0] + "/metrics")).text
        samples = histograms(exposition)
        for metric, name, extra in [
            ("time_to_restore", "time to restore", ()),
            ("request_to_approval", "request → approval", ()),
            ("approval_to_job_start", "approval → job start", ()),
            ("job_duration", "job", (("outcome", "completed"),)),
            ("restore_point_lag", "restore point lag", ()),
        ]:
            labels = tuple(sorted((("environment", ""), *extra)))
            assert samples[(f"{P}_{metric}_seconds_count", labels)] == 2.0, metric
            total = sum(max(f[name], timedelta(0)).total_seconds() for f in figures)
            assert abs(samples[(f"{P}_{metric}_seconds_sum", labels)] - total) < 1e-6, metric
            assert samples[(f"{P}_{metric}_seconds_bucket", tuple(sorted((*labels, ("le", "+Inf")))))] == 2.0
        # The restore points were the window's end, five minutes back: 5 min < the lag ≤ 15 min, both restores.
        lag = tuple(sorted((("environment", ""), ("le", "300.0"))))
        assert samples[(f"{P}_restore_point_lag_seconds_bucket", lag)] == 0.0
        lag = tuple(sorted((("environment", ""), ("le", "900.0"))))
        assert samples[(f"{P}_restore_point_lag_seconds_bucket", lag)] == 2.0
