"""HuaweiDdmGateway against the simulator over real sockets: domain facts and submit outcomes (the call budget,
kept in the store: tests/integration/test_ddm_budget.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.choices import ChoicesUnavailable, RestoreChoices
from bot.huawei.ddm import DdmClient
from bot.huawei.ddm_gateway import HuaweiDdmGateway, job_report_of
from bot.huawei.models import Job
from bot.ports import DdmUnreachable
from bot.restore.facts import Accepted, JobStatus, NotSent, Refused, Unknown
from bot.restore.plan import NamedRef
from bot.simulator import RunningSimulator
from bot.simulator.world import LEGACY_DDM_ID, ORDERS_PROD_ID, ORDERS_RESTORE_1_ID, ORDERS_RESTORE_2_ID
from tests.support.ddm import CREDS, FAST_RETRY, PROJECT, a_plan, calls, client_for, closed_port_url, fault
from tests.support.http import local_http


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with RunningSimulator(credentials=CREDS, job_seconds=0.6) as running:
        yield running


@pytest_asyncio.fixture
async def gateway(sim: RunningSimulator) -> AsyncIterator[HuaweiDdmGateway]:
    gateway = HuaweiDdmGateway(client_for(sim.base_url))
    yield gateway
    await gateway.aclose()


# ---- reads become domain facts -----------------------------------------------------------------------------


async def test_every_read_in_domain_terms(gateway: HuaweiDdmGateway) -> None:
    assert gateway.project_id == PROJECT and gateway.region == "cn-north-4"
    instances = {i.name: i for i in await gateway.instances()}
    assert instances["orders-prod"].id == ORDERS_PROD_ID and instances["orders-prod"].status

    windows = await gateway.windows(ORDERS_PROD_ID)
    assert windows and all(w.start_ms < w.end_ms for w in windows)
    assert [w.start_ms for w in windows] == sorted(w.start_ms for w in windows)
    assert time.time() * 1000 - windows[-1].end_ms < 3_600_000  # the demo world is current

    targets = {t.id: t for t in await gateway.targets(ORDERS_PROD_ID)}
    assert targets[ORDERS_RESTORE_1_ID].available and targets[ORDERS_RESTORE_1_ID].reason is None
    assert not targets[ORDERS_RESTORE_2_ID].available and targets[ORDERS_RESTORE_2_ID].reason
    assert not targets[LEGACY_DDM_ID].available and ORDERS_PROD_ID not in targets

    restore_ms = windows[-1].end_ms - 60_000
    nodes = await gateway.source_data_nodes(ORDERS_PROD_ID, restore_ms)
    assert len(nodes) >= 2 and all(n.id and n.name for n in nodes)
    assert all("GB" in n.detail for n in nodes)  # "MySQL 8.0, 100 GB": what people tell them apart by
    candidates = await gateway.data_node_candidates(
        ORDERS_PROD_ID, target_id=ORDERS_RESTORE_1_ID, source_node_id=nodes[0].id, restore_time_ms=restore_ms
    )
    assert any(c.available for c in candidates) and all(c.available or c.reason for c in candidates)


async def test_a_targets_details_and_schema_data_nodes_in_domain_terms(gateway: HuaweiDdmGateway) -> None:
    details = await gateway.instance_details(ORDERS_PROD_ID)
    assert details.running and details.address and details.port == 5066 and details.engine_version == "3.1.5"
    assert len(details.nodes) == 2 and all(n.status == "RUNNING" and n.ip for n in details.nodes)
    found = await gateway.schema_data_nodes(ORDERS_PROD_ID)
    assert found.schemas == 2 and len(found.nodes) == 2  # two schemas on the same two data nodes: each once
    assert all(n.id.endswith("in01") and n.name.startswith("orders-rds-") for n in found.nodes)
    empty = await gateway.schema_data_nodes(ORDERS_RESTORE_1_ID)
    assert (empty.schemas, empty.nodes) == (0, ())


async def test_a_v1_error_is_read_with_ddms_code(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    with pytest.raises(DdmUnreachable) as unknown:
        await gateway.instance_details("nosuchin09")
    assert unknown.value.code == "DBS.280001" and "nosuchin09" in unknown.value.message
    await fault(sim, route="databases", kind="500", count=3)
    with pytest.raises(DdmUnreachable) as failing:
        await gateway.schema_data_nodes(ORDERS_PROD_ID)
    assert failing.value.code == "DBS.200412" and len(await calls(sim, "databases")) == 3  # retried, then said


async def test_a_restore_from_submit_to_completed(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    plan = await a_plan(gateway)
    started_ms = int(time.time() * 1000)
    await gateway.prepare()
    outcome = await gateway.submit(plan)
    assert isinstance(outcome, Accepted) and len(outcome.job_id) == 32
    recorded = await calls(sim, "recovery")
    assert len(recorded) == 1 and recorded[0]["body"] == plan.restore_body()

    running = await gateway.job(outcome.job_id)
    assert running.status is JobStatus.RUNNING and not running.is_finished
    assert running.instance_id == ORDERS_RESTORE_1_ID and running.name == "RestoreInstance"
    assert running.created_ms is not None and abs(running.created_ms - started_ms) < 5_000
    assert running.ended_ms is None and running.percent is not None and 0 <= running.percent < 100

    for _ in range(60):
        report = await gateway.job(outcome.job_id)
        if report.is_finished:
            break
        await asyncio.sleep(0.05)
    assert report.status is JobStatus.COMPLETED and report.ended_ms is not None
    assert report.ended_ms >= (report.created_ms or 0) and report.fail_reason is None

    listed = {j.id: j for j in await gateway.jobs(started_ms - 60_000, int(time.time() * 1000))}
    assert listed[outcome.job_id].status is JobStatus.COMPLETED
    assert listed[outcome.job_id].instance_id == ORDERS_RESTORE_1_ID  # from the list's flattened fields


async def test_jobs_reads_every_page(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    plan = await a_plan(gateway)
    outcome = await gateway.submit(plan)
    assert isinstance(outcome, Accepted)
    world = sim.state.world
    job = next(j for j in world.jobs if j.id == outcome.job_id)
    world.jobs.extend(dataclasses.replace(job, id=f"{n:032x}") for n in range(150))
    now_ms = int(time.time() * 1000)
    found = await gateway.jobs(now_ms - 3_600_000, now_ms + 1_000)
    assert len({j.id for j in found}) == len(found) >= 151
    assert len(await calls(sim, "jobs")) == 2


async def test_a_job_status_we_do_not_know_is_refused_not_guessed(
    sim: RunningSimulator, gateway: HuaweiDdmGateway
) -> None:
    outcome = await gateway.submit(await a_plan(gateway))
    assert isinstance(outcome, Accepted)
    job = next(j for j in sim.state.world.jobs if j.id == outcome.job_id)
    job.status = "Pending"
    with pytest.raises(DdmUnreachable, match="status 'Pending'") as caught:
        await gateway.job(outcome.job_id)
    assert caught.value.code == "DDM.BAD_ANSWER"
    # In the job list it is left out, and the project's other jobs still read.
    now_ms = int(time.time() * 1000)
    listed = await gateway.jobs(now_ms - 86_400_000, now_ms + 60_000)
    assert outcome.job_id not in {j.id for j in listed} and listed


def test_a_running_job_reads_as_running() -> None:
    job = Job.model_validate(
        {
            "id": "job1",
            "name": "RestoreInstance",
            "status": "Running",
            "created_time": "2026-11-27T09:12:32+0000",
            "end_time": None,
            "process": "40%",
            "instance": {"id": "t1", "name": "orders-restore-1"},
        }
    )
    report = job_report_of(job)
    assert report.status is JobStatus.RUNNING and report.percent == 40 and report.instance_id == "t1"
    assert report.created_ms == 1_795_770_752_000 and report.ended_ms is None


# The service writes unset job strings as "" (end_time while running): no time, no progress.
def test_a_running_job_with_an_empty_end_time() -> None:
    job = Job.model_validate(
        {"id": "job1", "status": "Running", "created_time": "2026-11-27T09:12:32+0000", "end_time": "", "process": ""}
    )
    report = job_report_of(job)
    assert report.status is JobStatus.RUNNING and report.ended_ms is None and report.percent is None


# ---- reads: what goes wrong becomes DdmUnreachable ------------------------------------------------------------


async def test_a_refusal_keeps_ddms_code(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    await fault(sim, route="restorable_time_interval", kind="400", error_code="DBS.300400", error_msg="Not found.")
    with pytest.raises(DdmUnreachable) as caught:
        await gateway.windows(ORDERS_PROD_ID)
    assert caught.value.code == "DBS.300400"
    assert caught.value.message.startswith("DBS.300400: Not found. (HTTP 400")  # the code first: options clip


async def test_an_unreachable_service_is_unreachable() -> None:
    gateway = HuaweiDdmGateway(client_for(closed_port_url()))
    try:
        with pytest.raises(DdmUnreachable, match="could not be reached") as caught:
            await gateway.instances()
        assert caught.value.code is None
        with pytest.raises(DdmUnreachable, match="not a valid Huawei Cloud id"):
            await gateway.windows("../x")
    finally:
        await gateway.aclose()


async def test_choices_speak_of_choices(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    choices = RestoreChoices(gateway)
    names = [i.name for i in await choices.instances("orders-re")]
    assert names == ["orders-restore-1", "orders-restore-2", "orders-restore-3", "orders-restore-4"]
    resolved = await choices.resolve_target(ORDERS_PROD_ID, "orders-restore-1")
    assert not isinstance(resolved, list) and resolved is not None and resolved.id == ORDERS_RESTORE_1_ID
    await fault(sim, route="related_dn", kind="400")
    with pytest.raises(ChoicesUnavailable, match=r"DBS\.280001"):
        await choices.source_nodes(ORDERS_PROD_ID, int(time.time() * 1000) - 600_000)


# ---- submit: one POST, every outcome -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"kind": "400", "error_code": "DBS.300364", "error_msg": "Disk check failed."},
            Refused("DBS.300364", "Disk check failed."),
        ),
        ({"kind": "429", "retry_after": 0}, Refused("APIGW.0308", "")),
        ({"kind": "500"}, Unknown("", code="DBS.200412")),
        ({"kind": "html"}, Unknown("", code="HTTP.502")),
        ({"kind": "timeout", "delay_seconds": 3}, Unknown("")),
        ({"kind": "timeout", "delay_seconds": 3, "execute": True}, Unknown("")),
        ({"kind": "malformed"}, Unknown("")),
    ],
    ids=["400", "429", "500", "html", "timeout", "timeout-executed", "unreadable-202"],
)
async def test_submit_outcomes(
    sim: RunningSimulator, gateway: HuaweiDdmGateway, spec: dict[str, Any], expected: Refused | Unknown
) -> None:
    plan = await a_plan(gateway)
    await fault(sim, route="recovery", **spec)
    outcome = await gateway.submit(plan)
    assert type(outcome) is type(expected)
    if isinstance(outcome, Refused):
        assert isinstance(expected, Refused) and outcome.code == expected.code
        assert outcome.message == expected.message or not expected.message
    else:
        assert isinstance(outcome, Unknown) and isinstance(expected, Unknown)
        assert outcome.code == expected.code and outcome.message
    assert len(await calls(sim, "recovery")) == 1  # never repeated


async def test_submit_that_could_not_connect_was_not_sent(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    plan = await a_plan(gateway)
    elsewhere = HuaweiDdmGateway(client_for(closed_port_url()))
    try:
        outcome = await elsewhere.submit(plan)
    finally:
        await elsewhere.aclose()
    assert isinstance(outcome, NotSent) and outcome.code == "NOT_SENT" and "not sent" in outcome.message


async def test_submit_of_an_invalid_plan_is_not_sent(sim: RunningSimulator, gateway: HuaweiDdmGateway) -> None:
    plan = await a_plan(gateway)
    onto_itself = plan.model_copy(update={"target": NamedRef(id=ORDERS_PROD_ID)})
    future = plan.model_copy(update={"restore_time_ms": int(time.time() * 1000) + 3_600_000})
    other_project = plan.model_copy(update={"project_id": "f" * 32})
    unmapped = plan.model_copy(update={"mappings": ()})
    for bad in (onto_itself, future, other_project, unmapped):
        outcome = await gateway.submit(bad)
        assert isinstance(outcome, NotSent) and outcome.code == "INVALID_INPUT", outcome
    assert await calls(sim, "recovery") == []


async def test_submit_after_a_revoked_token_is_repeated_once_by_the_client(sim: RunningSimulator) -> None:
    from bot.huawei.auth import IamTokenProvider, TokenAuth

    provider = IamTokenProvider(
        iam_endpoint=sim.base_url, username="restore-bot", password="s3cret-Passw0rd", domain="acme", project_id=PROJECT
    )
    client = DdmClient(endpoint=sim.base_url, project_id=PROJECT, auth=TokenAuth(provider), retry=FAST_RETRY)
    gateway = HuaweiDdmGateway(client)
    try:
        plan = await a_plan(gateway)
        await gateway.prepare()
        async with local_http() as http:
            await http.post(f"{sim.base_url}/_sim/revoke-tokens")
        outcome = await gateway.submit(plan)
    finally:
        await gateway.aclose()
        await provider.aclose()
    assert isinstance(outcome, Accepted)
    assert [c["status"] for c in await calls(sim, "recovery")] == [401, 202]
