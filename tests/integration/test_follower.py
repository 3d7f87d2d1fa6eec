"""The follower against the real simulator: one job-list call per poll covers every running restore."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.restore.lifecycle import Event
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState
from bot.simulator import RunningSimulator, demo_world_json, world_from_json
from bot.simulator.model import JOB_COMPLETED, JOB_RUNNING, RESTORE_JOB_NAME
from bot.store.sql_store import RequestStore
from bot.workflow.follow import Follower
from bot.workflow.places import Places
from bot.workflow.submit import Submitter
from tests.support.ddm import CREDS, client_for
from tests.support.http import local_http

JOBS = 10


def utc_now() -> datetime:
    return datetime.now(UTC)


def world_with_running_jobs(count: int) -> dict[str, Any]:
    world = copy.deepcopy(demo_world_json())
    for n in range(count):
        world["ddm_instances"].append({"id": f"target{n:02d}in09", "name": f"restore-{n:02d}", "created": -86_400})
        world["jobs"].append(
            {
                "id": f"{n:032x}",
                "name": RESTORE_JOB_NAME,
                "instance_id": f"target{n:02d}in09",
                "created": -30,
                "status": JOB_RUNNING,
                "duration_seconds": 3600,
                "end_time": None,
                "outcome": JOB_COMPLETED,
                "fail_reason": None,
            }
        )
    return world


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    world = world_from_json(world_with_running_jobs(JOBS))
    async with RunningSimulator(credentials=CREDS, world=world, job_seconds=3600) as running:
        yield running


async def running_request(store: RequestStore, n: int) -> str:
    plan = RestorePlan(
        project_id=CREDS.project_id,
        region="cn-north-4",
        source=NamedRef(id=f"source{n:02d}in09"),
        target=NamedRef(id=f"target{n:02d}in09"),
        restore_time_ms=1_795_000_000_000,
        mappings=(DataNodeMapping(source=NamedRef(id=f"s{n}in01"), target=NamedRef(id=f"t{n}in01")),),
    )
    now = utc_now()
    request = await store.create(
        plan=plan, requester_id="UALICE", channel_id="C1", required_approvals=1, now=now, expires_at=now
    )
    await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=now.replace(year=2000))
    # Straight to RUNNING through the table's own moves (approval skipped: the follower only reads RUNNING).
    async with store.write() as conn:
        await conn.exec_driver_sql(f"UPDATE restore_requests SET state = 'APPROVED' WHERE id = '{request.id}'")
    await store.transition(
        request.id, Event.SUBMIT, actor="system", now=now, values={"submitted_ms": int(now.timestamp() * 1000)}
    )
    await store.transition(request.id, Event.JOB_SUBMITTED, actor="system", now=now, values={"job_id": f"{n:032x}"})
    return request.id


async def call_counts(sim: RunningSimulator) -> dict[str, int]:
    async with local_http() as http:
        answer = await http.get(f"{sim.base_url}/_sim/calls/count")
    return dict(answer.json()["by_route"])


async def test_ten_running_jobs_cost_one_job_list_call_per_poll(sim: RunningSimulator, tmp_path: Path) -> None:
    store = RequestStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await store.create_schema()
    ids = [await running_request(store, n) for n in range(JOBS)]
    gateway = HuaweiDdmGateway(client_for(sim.base_url)).background()
    places = Places.one(gateway)
    submitter = Submitter(store=store, places=places, clock=utc_now)
    follower = Follower(store=store, places=places, submitter=submitter, clock=utc_now, poll_interval=10)
    try:
        before = await call_counts(sim)
        polls = 3
        for _ in range(polls):
            assert await follower.step() == 10
        after = await call_counts(sim)
        calls = {route: after.get(route, 0) - before.get(route, 0) for route in after}
        job_status_calls = calls.get("jobs", 0) + calls.get("job", 0)
        assert job_status_calls / polls <= 2, calls
        assert calls.get("job", 0) == 0, calls  # every job was in the list: no single reads
        progress = [(await store.get(i)) for i in ids]
        assert all(r is not None and r.state is RequestState.RUNNING and r.job_progress is not None for r in progress)
        # A job the list does not show (e.g. created before the window) is read on its own, once per poll.
        # One job DDM does not know fails alone: the others are still followed in the same poll.
        missing = await running_request_with_job(store, "f" * 32, sim)
        assert await follower.step() == 10
        final = await call_counts(sim)
        assert final.get("jobs", 0) - after.get("jobs", 0) == 1
        assert final.get("job", 0) - after.get("job", 0) >= 1
        gone = await store.get(missing)
        assert gone is not None and gone.state is RequestState.RUNNING
    finally:
        await gateway.aclose()
        await store.close()


async def running_request_with_job(store: RequestStore, job_id: str, sim: RunningSimulator) -> str:
    request_id = await running_request(store, 99)
    async with store.write() as conn:
        await conn.exec_driver_sql(f"UPDATE restore_requests SET job_id = '{job_id}' WHERE id = '{request_id}'")
    return request_id


async def test_only_the_lease_holder_polls(sim: RunningSimulator, tmp_path: Path) -> None:
    store = RequestStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await store.create_schema()
    await running_request(store, 0)
    gateway = HuaweiDdmGateway(client_for(sim.base_url)).background()
    places = Places.one(gateway)
    submitter = Submitter(store=store, places=places, clock=utc_now)
    first, second = (
        Follower(store=store, places=places, submitter=submitter, clock=utc_now, poll_interval=10, owner=name)
        for name in ("replica-a", "replica-b")
    )
    try:
        before = (await call_counts(sim)).get("jobs", 0)
        await first.step()
        await second.step()
        assert (await call_counts(sim)).get("jobs", 0) - before == 1
        await first.close()  # gives the lease back (a dead replica's lease would run out instead)
        await second.step()
        assert (await call_counts(sim)).get("jobs", 0) - before == 2
    finally:
        await gateway.aclose()
        await store.close()


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def test_reconcile_picks_only_a_job_it_can_tell_is_ours() -> None:
    from bot.restore.facts import JobReport, JobStatus
    from bot.workflow.submit import pick_restore_job

    submitted = 1_795_000_000_000
    ours = JobReport("ours", JobStatus.RUNNING, name=RESTORE_JOB_NAME, instance_id="tgt", created_ms=submitted + 5_000)
    timeless = JobReport("old", JobStatus.COMPLETED, name=RESTORE_JOB_NAME, instance_id="tgt", created_ms=None)
    nameless = JobReport("x", JobStatus.RUNNING, name=None, instance_id="tgt", created_ms=submitted)
    before = JobReport(
        "b", JobStatus.COMPLETED, name=RESTORE_JOB_NAME, instance_id="tgt", created_ms=submitted - 600_000
    )
    pick = pick_restore_job
    assert (
        pick(
            [timeless, nameless, before, ours],
            target_instance_id="tgt",
            source_instance_id="src",
            submitted_ms=submitted,
        )
        is ours
    )
    assert (
        pick([timeless, nameless, before], target_instance_id="tgt", source_instance_id="src", submitted_ms=submitted)
        is None
    )
    on_source = JobReport("s", JobStatus.RUNNING, name=RESTORE_JOB_NAME, instance_id="src", created_ms=submitted + 1)
    other = JobReport("s2", JobStatus.RUNNING, name=RESTORE_JOB_NAME, instance_id="src", created_ms=submitted + 2)
    assert pick([on_source], target_instance_id="tgt", source_instance_id="src", submitted_ms=submitted) is on_source
    # Two jobs on the source, or another unsettled request from it (source not passed): nothing is guessed.
    assert pick([on_source, other], target_instance_id="tgt", source_instance_id="src", submitted_ms=submitted) is None
    assert pick([on_source], target_instance_id="tgt", source_instance_id=None, submitted_ms=submitted) is None


async def test_progress_milestones_reach_the_thread_once_each(sim: RunningSimulator, tmp_path: Path) -> None:
    """25/50/75 % each become one thread notice, in the move that stores the progress (audited); a follower
    holding an older read of the request (a replica that just took the lease over) tells nothing twice."""
    from bot.restore.facts import JobReport, JobStatus
    from bot.restore.notices import Notice

    store = RequestStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await store.create_schema()
    request_id = await running_request(store, 0)
    gateway = HuaweiDdmGateway(client_for(sim.base_url)).background()
    places = Places.one(gateway)
    submitter = Submitter(store=store, places=places, clock=utc_now)
    first, second = (
        Follower(store=store, places=places, submitter=submitter, clock=utc_now, poll_interval=10, owner=name)
        for name in ("replica-a", "replica-b")
    )

    async def milestones() -> list[object]:
        return [
            row.params["percent"] for row in await store.outbox.pending(request_id) if row.notice is Notice.PROGRESS
        ]

    def job(percent: int) -> JobReport:
        return JobReport(id=f"{0:032x}", status=JobStatus.RUNNING, percent=percent)

    try:
        stale = await store.get(request_id)
        assert stale is not None and not stale.job_progress
        for percent in (10, 30, 30):
            await first.record(await store.get(request_id) or stale, job(percent))
        assert await milestones() == [25]
        await second.record(stale, job(30))  # its read predates the milestone: judged on what is stored now
        await second.record(stale, job(40))
        assert await milestones() == [25]
        await first.record(await store.get(request_id) or stale, job(80))  # 50 and 75 passed at once: told once
        assert await milestones() == [25, 75]
        for percent in (60, 80, 90):  # DDM's figure going back moves nothing
            await first.record(await store.get(request_id) or stale, job(percent))
        latest = await store.get(request_id)
        assert latest is not None and latest.job_progress == 90 and latest.state is RequestState.RUNNING
        assert await milestones() == [25, 75]
        trail = [record.action for record in await store.audit_trail(request_id)]
        assert trail.count("progress") == 2
    finally:
        await gateway.aclose()
        await store.close()
