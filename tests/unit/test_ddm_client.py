"""DdmClient end to end against the simulator over real sockets: every call, every error path, each fault."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
from bot.huawei.ddm import DdmClient
from bot.huawei.errors import DdmApiError, DdmUnavailable, InvalidInput, OutcomeUnknown, error_from_response
from bot.huawei.models import RecoveryRequest, to_epoch_ms
from bot.huawei.retry import RetryPolicy, Timeouts
from bot.simulator import RunningSimulator, SimulatorCredentials
from bot.simulator.world import LEGACY_DDM_ID, ORDERS_PROD_ID, ORDERS_RESTORE_1_ID, ORDERS_RESTORE_2_ID
from tests.support.http import local_http

PROJECT = "0123456789abcdef0123456789abcdef"
CREDS = SimulatorCredentials(
    project_id=PROJECT,
    ak="TESTAKEXAMPLE0000000",
    sk="test-secret-key",
    username="restore-bot",
    password="s3cret-Passw0rd",
    domain="acme",
)
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with RunningSimulator(credentials=CREDS, job_seconds=0.4) as running:
        yield running


def token_provider(sim: RunningSimulator, **kwargs: Any) -> IamTokenProvider:
    return IamTokenProvider(
        iam_endpoint=sim.base_url,
        username=kwargs.pop("username", "restore-bot"),
        password=kwargs.pop("password", "s3cret-Passw0rd"),
        domain="acme",
        project_id=PROJECT,
        **kwargs,
    )


def make_client(sim: RunningSimulator, mode: str = "token", **kwargs: Any) -> DdmClient:
    auth: httpx.Auth
    if mode == "aksk":
        auth = AkSkAuth(ak="TESTAKEXAMPLE0000000", sk=kwargs.pop("sk", "test-secret-key"), project_id=PROJECT)
    else:
        auth = TokenAuth(kwargs.pop("provider", None) or token_provider(sim))
    return DdmClient(
        endpoint=kwargs.pop("endpoint", sim.base_url),
        project_id=PROJECT,
        auth=auth,
        retry=kwargs.pop("retry", FAST_RETRY),
        timeouts=kwargs.pop("timeouts", Timeouts(connect=2, read=2)),
        **kwargs,
    )


async def fault(sim: RunningSimulator, **spec: Any) -> None:
    async with local_http() as http:
        answer = await http.post(f"{sim.base_url}/_sim/faults", json=spec)
        assert answer.status_code < 300, answer.text


async def calls(sim: RunningSimulator, route: str) -> list[dict[str, Any]]:
    async with local_http() as http:
        answer = await http.get(f"{sim.base_url}/_sim/calls", params={"route": route})
        return list(answer.json())


async def restore_body(client: DdmClient, target: str = ORDERS_RESTORE_1_ID) -> RecoveryRequest:
    windows = await client.restorable_windows(ORDERS_PROD_ID)
    moment = windows[-1].end_time - timedelta(minutes=1)
    related = await client.related_data_nodes(ORDERS_PROD_ID, moment)
    relations = []
    used: set[str] = set()
    for node in related.related_data_nodes:
        candidates = await client.restorable_data_nodes(
            ORDERS_PROD_ID, target_instance_id=target, source_dn_instance_id=node.instance_id, restore_time=moment
        )
        pick = next(c for c in candidates if c.available and c.instance_id not in used)
        used.add(pick.instance_id)
        relations.append({"source_instance_id": node.instance_id, "target_instance_id": pick.instance_id})
    return RecoveryRequest.model_validate(
        {
            "source": {"restore_time": to_epoch_ms(moment)},
            "target": {"instance_id": target},
            "data_node_relations": relations,
        }
    )


# ---- every call, both auth modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["token", "aksk"])
async def test_every_call_and_a_restore_to_completion(sim: RunningSimulator, mode: str) -> None:
    async with make_client(sim, mode) as client:
        instances = await client.list_instances()
        assert {"orders-prod", "orders-restore-1"} <= {i.name for i in instances}

        windows = await client.restorable_windows(ORDERS_PROD_ID)
        assert windows and all(w.start_time.tzinfo and w.end_time.tzinfo for w in windows)
        assert datetime.now(UTC) - windows[-1].end_time < timedelta(hours=1)  # the demo world is current

        targets = {t.instance_id: t for t in await client.restorable_instances(ORDERS_PROD_ID)}
        assert targets[ORDERS_RESTORE_1_ID].available
        assert not targets[ORDERS_RESTORE_2_ID].available and targets[ORDERS_RESTORE_2_ID].unavailable_reason
        assert not targets[LEGACY_DDM_ID].available and targets[LEGACY_DDM_ID].unavailable_reason
        assert ORDERS_PROD_ID not in targets

        body = await restore_body(client)
        assert len(body.data_node_relations) >= 2
        started = datetime.now(UTC)
        job_id = await client.restore(ORDERS_PROD_ID, body)
        assert len(job_id) == 32

        job = await client.job(job_id)
        assert job.status == "Running" and job.target_instance_id == ORDERS_RESTORE_1_ID
        for _ in range(40):
            job = await client.job(job_id)
            if job.is_finished:
                break
            await asyncio.sleep(0.05)
        assert job.status == "Completed" and job.succeeded
        listed = await client.jobs(started - timedelta(minutes=1))
        assert job_id in {j.id for j in listed}

        recorded = await calls(sim, "recovery")
        assert len(recorded) == 1 and recorded[0]["body"] == body.to_wire()


async def test_list_instances_reads_every_page(sim: RunningSimulator) -> None:
    async with make_client(sim) as client:
        everything = await client.list_instances()
    pages = await calls(sim, "list_instances")
    assert pages[0]["query"]["limit"] == "128" and pages[0]["query"]["offset"] == "0"
    assert len(everything) == len({i.id for i in everything}) >= 5


# ---- validation before sending -----------------------------------------------------------------------------


async def test_bad_inputs_are_refused_before_sending(sim: RunningSimulator) -> None:
    async with make_client(sim) as client:
        body = await restore_body(client)
        with pytest.raises(InvalidInput, match="the target DDM instance is the source itself"):
            await client.restore(ORDERS_RESTORE_1_ID, body)
        future = body.model_copy(
            update={
                "source": body.source.model_copy(update={"restore_time": to_epoch_ms(datetime.now(UTC)) + 3_600_000})
            }
        )
        with pytest.raises(InvalidInput, match="is in the future"):
            await client.restore(ORDERS_PROD_ID, future)
        with pytest.raises(InvalidInput, match=r"instance_id: '\.\./x' is not a valid"):
            await client.restorable_windows("../x")
        with pytest.raises(InvalidInput, match="needs a time zone"):
            await client.related_data_nodes(ORDERS_PROD_ID, datetime(2026, 1, 1))
        with pytest.raises(InvalidInput, match="more than 30 days ago"):
            await client.jobs(datetime.now(UTC) - timedelta(days=31))
    with pytest.raises(ValueError, match="at least one source"):
        RecoveryRequest.model_validate(
            {"source": {"restore_time": 1}, "target": {"instance_id": "x"}, "data_node_relations": []}
        )
    with pytest.raises(ValueError, match="target data node is used more than once"):
        RecoveryRequest.model_validate(
            {
                "source": {"restore_time": 1},
                "target": {"instance_id": "x"},
                "data_node_relations": [
                    {"source_instance_id": "a", "target_instance_id": "t"},
                    {"source_instance_id": "b", "target_instance_id": "t"},
                ],
            }
        )
    assert await calls(sim, "recovery") == []


# ---- the service's refusals --------------------------------------------------------------------------------


async def test_service_refusals_carry_code_message_and_request_id(sim: RunningSimulator) -> None:
    async with make_client(sim) as client:
        body = await restore_body(client)
        busy = body.model_copy(update={"target": body.target.model_copy(update={"instance_id": ORDERS_RESTORE_2_ID})})
        with pytest.raises(DdmApiError) as caught:
            await client.restore(ORDERS_PROD_ID, busy)
        assert caught.value.status == 400 and caught.value.error_code == "DBS.300372"
        assert caught.value.request_id
        old = body.model_copy(update={"source": body.source.model_copy(update={"restore_time": 1_000_000_000_000})})
        with pytest.raises(DdmApiError) as caught:
            await client.restore(ORDERS_PROD_ID, old)
        assert caught.value.error_code == "DBS.280001"
        assert "DBS.280001" in str(caught.value) and "HTTP 400" in str(caught.value)


# ---- IAM token ---------------------------------------------------------------------------------------------


async def test_token_single_flight_and_refresh_on_401(sim: RunningSimulator) -> None:
    provider = token_provider(sim)
    async with make_client(sim, provider=provider) as client:
        await asyncio.gather(*[client.restorable_windows(ORDERS_PROD_ID) for _ in range(20)])
        assert provider.refresh_count == 1
        assert len(await calls(sim, "iam_token")) == 1
        async with local_http() as http:
            await http.post(f"{sim.base_url}/_sim/revoke-tokens")
        await client.restorable_windows(ORDERS_PROD_ID)
        assert provider.refresh_count == 2
    await provider.aclose()


async def test_token_is_refreshed_before_it_expires(sim: RunningSimulator) -> None:
    offset = timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    provider = token_provider(sim, clock=clock)
    first = await provider.token()
    assert await provider.token() == first
    offset = timedelta(hours=23, minutes=1)  # inside the last hour of a 24 h token
    second = await provider.token()
    assert second != first and provider.refresh_count == 2
    await provider.aclose()


async def test_wrong_password_is_a_clear_error(sim: RunningSimulator) -> None:
    provider = token_provider(sim, password="wrong")
    async with make_client(sim, provider=provider) as client:
        with pytest.raises(DdmApiError) as caught:
            await client.restorable_windows(ORDERS_PROD_ID)
    assert caught.value.status == 401 and "The username or password is wrong." in str(caught.value)
    await provider.aclose()


async def test_restore_post_after_revoked_token_is_repeated_once(sim: RunningSimulator) -> None:
    async with make_client(sim) as client:
        body = await restore_body(client)
        async with local_http() as http:
            await http.post(f"{sim.base_url}/_sim/revoke-tokens")
        job_id = await client.restore(ORDERS_PROD_ID, body)
    recovery = await calls(sim, "recovery")
    assert [c["status"] for c in recovery] == [401, 202]
    assert job_id


async def test_aksk_wrong_secret_is_refused_and_not_retried(sim: RunningSimulator) -> None:
    async with make_client(sim, "aksk", sk="wrong") as client:
        with pytest.raises(DdmApiError) as caught:
            await client.restorable_windows(ORDERS_PROD_ID)
    assert caught.value.status == 401 and caught.value.error_code == "APIGW.0301"
    assert len(await calls(sim, "restorable_time_interval")) == 1


# ---- faults on reads: retried --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "500", "count": 2},
        {"kind": "429", "count": 2, "retry_after": 0},
        {"kind": "malformed", "count": 1},
        {"kind": "html", "count": 2},
        {"kind": "timeout", "count": 1, "delay_seconds": 3},
    ],
    ids=lambda s: s["kind"],
)
async def test_reads_retry_through_faults(sim: RunningSimulator, spec: dict[str, Any]) -> None:
    await fault(sim, route="restorable_time_interval", **spec)
    async with make_client(sim, timeouts=Timeouts(connect=1, read=0.5)) as client:
        windows = await client.restorable_windows(ORDERS_PROD_ID)
    assert windows
    assert len(await calls(sim, "restorable_time_interval")) == spec["count"] + 1


async def test_reads_give_up_with_a_clear_error(sim: RunningSimulator) -> None:
    await fault(sim, route="restorable_instances", kind="html", count=10)
    async with make_client(sim) as client:
        with pytest.raises(DdmApiError) as caught:
            await client.restorable_instances(ORDERS_PROD_ID)
    assert caught.value.status == 502 and "non-JSON answer" in str(caught.value)
    assert len(await calls(sim, "restorable_instances")) == FAST_RETRY.attempts


async def test_added_latency_is_survived(sim: RunningSimulator) -> None:
    async with local_http() as http:
        await http.post(f"{sim.base_url}/_sim/latency", json={"route": "*", "seconds": 0.2})
    async with make_client(sim) as client:
        started = asyncio.get_running_loop().time()
        await client.restorable_windows(ORDERS_PROD_ID)
        assert asyncio.get_running_loop().time() - started >= 0.2


async def test_unreachable_service_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DdmClient(
        endpoint=f"http://127.0.0.1:{port}",
        project_id=PROJECT,
        auth=AkSkAuth(ak="a", sk="b"),
        retry=FAST_RETRY,
        timeouts=Timeouts(connect=0.5, read=0.5),
    )
    body = RecoveryRequest.model_validate(
        {
            "source": {"restore_time": 1_700_000_000_000},
            "target": {"instance_id": "t"},
            "data_node_relations": [{"source_instance_id": "a", "target_instance_id": "b"}],
        }
    )
    async with client:
        with pytest.raises(DdmUnavailable, match="after 4 tries"):
            await client.restorable_windows(ORDERS_PROD_ID)
        with pytest.raises(DdmUnavailable, match="the restore was not sent"):
            await client.restore(ORDERS_PROD_ID, body)


# ---- faults on the restore POST: never retried -------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error", "code"),
    [
        ({"kind": "500"}, OutcomeUnknown, None),  # a 5xx does not prove that nothing ran
        ({"kind": "400", "error_code": "DBS.300364", "error_msg": "Disk check failed."}, DdmApiError, "DBS.300364"),
        ({"kind": "429", "retry_after": 0}, DdmApiError, "APIGW.0308"),
        ({"kind": "html"}, OutcomeUnknown, None),
        ({"kind": "timeout", "delay_seconds": 3}, OutcomeUnknown, None),
        ({"kind": "malformed"}, OutcomeUnknown, None),
    ],
    ids=lambda v: v["kind"] if isinstance(v, dict) else "",
)
async def test_restore_post_is_never_retried(
    sim: RunningSimulator, spec: dict[str, Any], error: type[Exception], code: str | None
) -> None:
    async with make_client(sim, timeouts=Timeouts(connect=1, read=0.5)) as client:
        body = await restore_body(client)
        await fault(sim, route="recovery", **spec)
        with pytest.raises(error) as caught:
            await client.restore(ORDERS_PROD_ID, body)
    if code:
        assert caught.value.error_code == code  # type: ignore[attr-defined]
    if spec["kind"] == "500":
        assert caught.value.error is not None and caught.value.error.error_code == "DBS.200412"  # type: ignore[attr-defined]
    assert len(await calls(sim, "recovery")) == 1


async def test_lost_answer_leaves_a_job_to_reconcile(sim: RunningSimulator) -> None:
    async with make_client(sim, timeouts=Timeouts(connect=1, read=0.5)) as client:
        body = await restore_body(client)
        await fault(sim, route="recovery", kind="timeout", delay_seconds=3, execute=True)
        started = datetime.now(UTC)
        with pytest.raises(OutcomeUnknown, match="sent but no answer came back"):
            await client.restore(ORDERS_PROD_ID, body)
        jobs = await client.jobs(started - timedelta(minutes=1))
    restore_jobs = [j for j in jobs if j.target_instance_id == ORDERS_RESTORE_1_ID and j.name == "RestoreInstance"]
    assert len(restore_jobs) == 1


# ---- error parsing (pure) ---------------------------------------------------------------------------------


def answer(status: int, body: str | bytes, content_type: str = "application/json", **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=body if isinstance(body, bytes) else body.encode(),
        headers={"Content-Type": content_type, **headers},
        request=httpx.Request("POST", "https://ddm.example/v3/p/instances/i/backups/recovery"),
    )


@pytest.mark.parametrize(
    ("response", "code", "message"),
    [
        (answer(400, '{"error_code":"DBS.280001","error_msg":"Parameter error."}'), "DBS.280001", "Parameter error."),
        (answer(400, '{"errCode":"DBS.100001","externalMessage":"Old style."}'), "DBS.100001", "Old style."),
        (
            answer(
                401,
                '{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r9"}',
            ),
            "APIGW.0301",
            "Incorrect IAM authentication information",
        ),
        (
            answer(401, '{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}'),
            "IAM.401",
            "The username or password is wrong.",
        ),
        (
            answer(502, "<html><head><title>502 Bad Gateway</title></head><body>x</body></html>", "text/html"),
            "HTTP.502",
            "non-JSON answer: 502 Bad Gateway",
        ),
        (answer(503, "upstream connect error", "text/plain"), "HTTP.503", "non-JSON answer: upstream connect error"),
        (answer(500, ""), "HTTP.500", "Internal Server Error"),
    ],
)
def test_error_bodies(response: httpx.Response, code: str, message: str) -> None:
    error = error_from_response(response)
    assert error.error_code == code and error.error_msg == message and error.status == response.status_code


def test_request_id_from_header_or_body() -> None:
    assert error_from_response(answer(400, "{}", **{"X-Request-Id": "abc"})).request_id == "abc"
    body = json.dumps({"error_code": "APIGW.0308", "error_msg": "throttled", "request_id": "r1"})
    throttled = error_from_response(answer(429, body))
    assert throttled.request_id == "r1" and throttled.is_throttled


def secrets_never_in(text: str, *, forbidden: Callable[[str], bool] = lambda s: "s3cret" in s) -> bool:
    return not forbidden(text)


async def test_no_secret_in_error_text_or_records(sim: RunningSimulator) -> None:
    provider = token_provider(sim, password="s3cret-WRONG")
    async with make_client(sim, provider=provider) as client:
        with pytest.raises(DdmApiError) as caught:
            await client.restorable_windows(ORDERS_PROD_ID)
    assert secrets_never_in(str(caught.value))
    assert secrets_never_in(json.dumps(await calls(sim, "iam_token")))
    await provider.aclose()


async def test_paged_lists_cross_page_boundaries(sim: RunningSimulator) -> None:
    import dataclasses

    world = sim.state.world
    template = world.ddm_instances[0]
    seeded = len(world.ddm_instances)
    for i in range(130):
        world.ddm_instances.append(dataclasses.replace(template, id=f"{i:032x}in09", name=f"bulk-{i:03d}"))
    async with make_client(sim) as client:
        everything = await client.list_instances()
        targets = await client.restorable_instances(ORDERS_PROD_ID)
    assert len(everything) == len({i.id for i in everything}) == seeded + 130 > 128
    pages = await calls(sim, "list_instances")
    assert [(p["query"]["offset"], p["query"]["limit"]) for p in pages] == [("0", "128"), ("128", "128")]
    assert len(targets) == len({t.instance_id for t in targets}) == seeded + 130 - 1  # all but the source
    assert len(await calls(sim, "restorable_instances")) == 2
