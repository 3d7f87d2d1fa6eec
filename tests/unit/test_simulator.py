"""The Huawei Cloud simulator over real local HTTP (httpx against RunningSimulator): no mocks."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.huawei import signer
from bot.simulator import RunningSimulator, SimulatorCredentials, World, WorldError, demo_world_json, load_world
from bot.simulator import world as w
from bot.simulator.world import world_from_json
from tests.support.http import local_http

PROJECT = "0123456789abcdef0123456789abcdef"
CREDS = SimulatorCredentials(
    project_id=PROJECT,
    ak="TESTAKEXAMPLE0000000",
    sk="test-sk-not-a-real-secret-000000000000000",
    username="ddm-bot",
    password="Corr3ct-Horse!",
    domain="acme",
)
EXAMPLE_WORLD = Path(__file__).resolve().parents[2] / "bot" / "simulator" / "example_world.json"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
DDM = f"/v3/{PROJECT}"
SRC = f"{DDM}/instances/{w.ORDERS_PROD_ID}/backups"


class Clock:
    """A clock tests can move; starts at real time so relative demo-world times stay sensible."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with RunningSimulator(credentials=CREDS, job_seconds=0.3) as running:
        yield running


@pytest_asyncio.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with local_http(base_url=sim.base_url, timeout=5.0) as http:
        yield http


def token_body(
    *, name: str = "ddm-bot", password: str = "Corr3ct-Horse!", project: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "password": password, "domain": {"name": "acme"}}},
            },
            "scope": {"project": project or {"id": PROJECT}},
        }
    }


async def get_token(client: httpx.AsyncClient) -> str:
    answer = await client.post("/v3/auth/tokens", params={"nocatalog": "true"}, json=token_body())
    assert answer.status_code == 201, answer.text
    return answer.headers["X-Subject-Token"]


@pytest_asyncio.fixture
async def api(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same client, authenticated with an IAM token."""
    client.headers["X-Auth-Token"] = await get_token(client)
    return client


def now_ms() -> int:
    return int(time.time() * 1000)


def restore_body(**changes: Any) -> dict[str, Any]:
    """A valid restore of orders-prod onto orders-restore-1 an hour ago, in the seed page's shape."""
    body: dict[str, Any] = {
        "source": {"restore_time": now_ms() - 3_600_000},
        "target": {"instance_id": w.ORDERS_RESTORE_1_ID},
        "data_node_relations": [
            {"source_instance_id": w.ORDERS_RDS_0_ID, "target_instance_id": w.RESTORE_RDS_IDS[0]},
            {"source_instance_id": w.ORDERS_RDS_1_ID, "target_instance_id": w.RESTORE_RDS_IDS[1]},
        ],
    }
    body.update(changes)
    return body


def api_error(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error_code"]


async def wait_for_job(api: httpx.AsyncClient, job_id: str, within: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job: dict[str, Any] = (await api.get(f"{DDM}/jobs/{job_id}")).json()["job"]
        if job["status"] != "Running" or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


# ---- IAM ------------------------------------------------------------------------------------------------------


async def test_token_issued_for_the_right_password(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v3/auth/tokens", params={"nocatalog": "true"}, json=token_body())
    assert answer.status_code == 201
    assert len(answer.headers["X-Subject-Token"]) > 64
    assert HEX32.match(answer.headers["X-Request-Id"])
    token = answer.json()["token"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", token["expires_at"])
    expires = datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    assert token["methods"] == ["password"]
    assert token["project"]["id"] == PROJECT
    assert token["user"]["name"] == "ddm-bot" and token["user"]["domain"]["name"] == "acme"
    assert "catalog" not in token
    with_catalog = await client.post("/v3/auth/tokens", json=token_body(project={"name": "ap-southeast-1"}))
    assert with_catalog.status_code == 201
    assert with_catalog.json()["token"]["project"] == {
        "id": PROJECT,
        "name": "ap-southeast-1",
        "domain": with_catalog.json()["token"]["project"]["domain"],
    }
    assert {entry["type"] for entry in with_catalog.json()["token"]["catalog"]} == {"iam", "ddm"}


async def test_token_refused_for_a_wrong_password(client: httpx.AsyncClient) -> None:
    other_project = await client.post("/v3/auth/tokens", json=token_body(project={"id": "f" * 32}))
    assert other_project.status_code == 401
    for body in (token_body(password="wrong"), token_body(name="someone-else")):
        answer = await client.post("/v3/auth/tokens", json=body)
        assert answer.status_code == 401
        assert answer.json() == {
            "error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
        }
        assert "X-Subject-Token" not in answer.headers


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        json.dumps({"auth": {}}).encode(),
        json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "x"}}}}}).encode(),
        json.dumps({"auth": {"identity": {"methods": ["token"]}}}).encode(),
    ],
)
async def test_token_refused_for_a_malformed_body(client: httpx.AsyncClient, content: bytes) -> None:
    answer = await client.post("/v3/auth/tokens", content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request" and error["message"]


# ---- the gateway: token and AK/SK -----------------------------------------------------------------------------


async def test_ddm_call_with_a_token(api: httpx.AsyncClient) -> None:
    answer = await api.get(f"{DDM}/instances")
    assert answer.status_code == 200
    assert HEX32.match(answer.headers["X-Request-Id"])
    page = answer.json()
    assert page["total"] == page["total_record"] == 7
    names = [i["name"] for i in page["instances"]]
    assert names == [
        "orders-prod",
        "users-prod",
        "orders-restore-1",
        "orders-restore-2",
        "legacy-ddm",
        "orders-restore-3",
        "orders-restore-4",
    ]
    first = page["instances"][0]
    assert first["id"] == w.ORDERS_PROD_ID and first["status"] == "RUNNING"
    assert {"engine_version", "node_count", "vpc_id", "created", "updated"} <= set(first)
    assert API_TIME.match(first["created"])


async def test_ddm_call_without_a_token(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{DDM}/instances")
    assert answer.status_code == 401
    body = answer.json()
    assert body["error_code"] == "APIGW.0301"
    assert body["error_msg"] == "Incorrect IAM authentication information: x-auth-token not found"
    assert body["request_id"] == answer.headers["X-Request-Id"]


async def test_unknown_and_revoked_tokens_are_refused(api: httpx.AsyncClient) -> None:
    bogus = await api.get(f"{DDM}/instances", headers={"X-Auth-Token": "MIInot-a-token"})
    assert api_error(bogus) == (401, "APIGW.0301")
    revoked = await api.post("/_sim/revoke-tokens")
    assert revoked.json() == {"revoked": 1}
    answer = await api.get(f"{DDM}/instances")
    assert api_error(answer) == (401, "APIGW.0301")
    # A new token works again: what a client does after a 401.
    api.headers["X-Auth-Token"] = await get_token(api)
    assert (await api.get(f"{DDM}/instances")).status_code == 200


async def test_expired_token_is_refused() -> None:
    clock = Clock()
    async with (
        RunningSimulator(credentials=CREDS, token_ttl_seconds=60, clock=clock) as sim,
        local_http(base_url=sim.base_url) as client,
    ):
        client.headers["X-Auth-Token"] = await get_token(client)
        assert (await client.get(f"{DDM}/instances")).status_code == 200
        clock.now += timedelta(seconds=61)
        answer = await client.get(f"{DDM}/instances")
        assert answer.json()["error_msg"] == "Incorrect IAM authentication information: token expires"


async def test_another_project_in_the_path_is_forbidden(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v3/ffffffffffffffffffffffffffffffff/instances")
    assert api_error(answer) == (403, "APIGW.0106")


def signed_request(
    sim: RunningSimulator,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    *,
    sk: str | None = None,
    at: datetime | None = None,
) -> httpx.Request:
    """Sign like the official SDK: Host, X-Sdk-Date, Content-Type, X-Project-Id; the canonical query as sent."""
    host = sim.base_url.removeprefix("http://")
    headers = {
        "Host": host,
        "X-Sdk-Date": signer.format_sdk_date(at or datetime.now(UTC)),
        "Content-Type": "application/json",
        "X-Project-Id": PROJECT,
    }
    pairs = query or []
    signature = signer.sign(
        method=method,
        path=path,
        query=pairs,
        headers=headers,
        body=body,
        ak=CREDS.ak or "",
        sk=sk if sk is not None else CREDS.sk or "",
    )
    headers["Authorization"] = signature.authorization
    query_string = signer.canonical_query_string(pairs)
    url = sim.base_url + path + (f"?{query_string}" if query_string else "")
    return httpx.Request(method, url, headers=headers, content=body)


async def test_aksk_signed_get_and_post_are_accepted(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    listing = await client.send(signed_request(sim, "GET", f"{DDM}/instances", [("offset", "0"), ("limit", "2")]))
    assert listing.status_code == 200, listing.text
    assert len(listing.json()["instances"]) == 2
    body = json.dumps(restore_body()).encode()
    posted = await client.send(signed_request(sim, "POST", f"{SRC}/recovery", body=body))
    assert posted.status_code == 202, posted.text
    assert HEX32.match(posted.json()["job_id"])
    assert [c.auth for c in sim.state.calls_for("recovery")] == ["aksk"]


async def test_aksk_with_a_wrong_sk_is_refused(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    answer = await client.send(signed_request(sim, "GET", f"{DDM}/instances", sk="wrong-secret"))
    assert api_error(answer) == (401, "APIGW.0301")
    assert answer.json()["error_msg"] == "Incorrect IAM authentication information: verify aksk signature fail"


async def test_aksk_with_a_stale_sdk_date_is_refused(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=16)
    answer = await client.send(signed_request(sim, "GET", f"{DDM}/instances", at=stale))
    assert api_error(answer) == (401, "APIGW.0301")


async def test_aksk_tampered_query_is_refused(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    request = signed_request(sim, "GET", f"{DDM}/instances", [("limit", "2")])
    request.url = request.url.copy_with(query=b"limit=3")
    assert (await client.send(request)).status_code == 401


async def test_aksk_with_a_security_token() -> None:
    temporary = SimulatorCredentials(project_id=PROJECT, ak="TMPAK", sk="tmp-sk", security_token="sts-token-value")
    async with (
        RunningSimulator(credentials=temporary) as sim,
        local_http(base_url=sim.base_url) as client,
    ):

        def request(token: str | None) -> httpx.Request:
            headers = {
                "Host": sim.base_url.removeprefix("http://"),
                "X-Sdk-Date": signer.format_sdk_date(datetime.now(UTC)),
                "Content-Type": "application/json",
                "X-Project-Id": PROJECT,
            }
            if token is not None:
                headers["X-Security-Token"] = token
            path = f"{DDM}/instances"
            signature = signer.sign(
                method="GET", path=path, query=[], headers=headers, body=b"", ak="TMPAK", sk="tmp-sk"
            )
            headers["Authorization"] = signature.authorization
            return httpx.Request("GET", sim.base_url + path, headers=headers)

        assert (await client.send(request("sts-token-value"))).status_code == 200
        for wrong in (None, "another-token"):
            answer = await client.send(request(wrong))
            assert api_error(answer) == (401, "APIGW.0301")


async def test_the_bots_own_clients_work_against_it(sim: RunningSimulator) -> None:
    """Our DdmClient with AK/SK, and with an IAM token that is revoked mid-way (401 -> new token -> retry)."""
    from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
    from bot.huawei.ddm import DdmClient

    provider = IamTokenProvider(
        iam_endpoint=sim.base_url, username="ddm-bot", password="Corr3ct-Horse!", domain="acme", project_id=PROJECT
    )
    auths: list[httpx.Auth] = [AkSkAuth(ak=CREDS.ak or "", sk=CREDS.sk or "", project_id=PROJECT), TokenAuth(provider)]
    try:
        for auth in auths:
            async with DdmClient(endpoint=sim.base_url, project_id=PROJECT, auth=auth) as ddm:
                assert len(await ddm.list_instances()) == len(sim.state.world.ddm_instances) == 7
                sim.state.tokens.revoke_all()
                windows = await ddm.restorable_windows(w.ORDERS_PROD_ID)
                assert len(windows) == 1
    finally:
        await provider.aclose()
    assert provider.refresh_count == 2
    assert [c.auth for c in sim.state.calls_for("list_instances")] == ["aksk", "token"]


def test_credentials_repr_holds_no_secret() -> None:
    text = repr(CREDS) + CREDS.describe()
    assert "Corr3ct-Horse!" not in text and str(CREDS.sk) not in text
    assert "ddm-bot" in CREDS.describe()


# ---- the restore: the seed call and its job -------------------------------------------------------------------


async def test_seed_example_request_runs_to_completed(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    answer = await api.post(f"{SRC}/recovery", json=restore_body())
    assert answer.status_code == 202
    job_id = answer.json()["job_id"]
    assert HEX32.match(job_id)

    running = (await api.get(f"{DDM}/jobs/{job_id}")).json()["job"]
    assert running["status"] == "Running" and running["name"] == "RestoreInstance"
    assert re.match(r"^\d{1,2}%$", running["process"])
    assert running["instance"] == {"id": w.ORDERS_RESTORE_1_ID, "name": "orders-restore-1"}
    # Unset strings are "", as DDM writes them (not null, not missing).
    assert API_TIME.match(running["created_time"]) and running["end_time"] == "" and running["fail_reason"] == ""
    listing = (await api.get(f"{DDM}/instances")).json()["instances"]
    assert {i["name"]: i["status"] for i in listing}["orders-restore-1"] == "RESTORE"

    done = await wait_for_job(api, job_id)
    assert done["status"] == "Completed" and done["process"] == "" and API_TIME.match(done["end_time"])
    assert done["fail_reason"] == ""
    target = sim.state.world.ddm(w.ORDERS_RESTORE_1_ID)
    assert target is not None and target.status == "RUNNING"
    assert {n.id for n in sim.state.world.data_nodes_of(target.id)} == set(w.RESTORE_RDS_IDS[:2])
    # Now it has data nodes, so it is no longer a restore target.
    candidates = (await api.get(f"{SRC}/restorable-instances")).json()["instances"]
    restored = next(c for c in candidates if c["instance_id"] == w.ORDERS_RESTORE_1_ID)
    assert restored["available"] is False and restored["unavailable_reason"]


async def test_job_list_contains_the_restore_job(api: httpx.AsyncClient) -> None:
    job_id = (await api.post(f"{SRC}/recovery", json=restore_body())).json()["job_id"]
    answer = await api.get(
        f"{DDM}/jobs", params={"start_time": now_ms() - 86_400_000, "end_time": now_ms() + 1000, "limit": 10}
    )
    assert answer.status_code == 200
    page = answer.json()
    by_id = {j["id"]: j for j in page["jobs"]}
    assert page["total"] == 2  # this one and the demo world's busy restore; the 2-day-old one is outside
    mine = by_id[job_id]
    assert mine["instance_id"] == w.ORDERS_RESTORE_1_ID and mine["instance_name"] == "orders-restore-1"
    assert mine["name"] == "RestoreInstance" and mine["status"] == "Running" and mine["fail_reason"] == ""
    assert set(mine) == {
        "id",
        "name",
        "status",
        "created_time",
        "end_time",
        "process",
        "instance_id",
        "instance_name",
        "fail_reason",
    }
    assert mine["end_time"] == "" and re.match(r"^\d{1,2}%$", mine["process"]) and API_TIME.match(mine["created_time"])
    assert w.BUSY_JOB_ID in by_id
    everything = await api.get(f"{DDM}/jobs", params={"start_time": now_ms() - 29 * 86_400_000, "end_time": now_ms()})
    assert everything.json()["total"] == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_time": "x", "end_time": "1"}, "start_time must be epoch milliseconds, not 'x'"),
        ({"end_time": "1"}, "start_time is missing"),
        ({"start_time": str(now_ms() - 31 * 86_400_000), "end_time": str(now_ms())}, "more than 30 days back"),
        ({"start_time": str(now_ms()), "end_time": str(now_ms() - 1000)}, "is after end_time"),
        ({"start_time": str(now_ms() - 1000), "end_time": str(now_ms()), "limit": "0"}, "limit must be 1..128, not 0"),
    ],
)
async def test_job_list_refuses_bad_ranges(api: httpx.AsyncClient, params: dict[str, str], message: str) -> None:
    answer = await api.get(f"{DDM}/jobs", params=params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "DBS.280001"
    assert body["error_msg"].startswith("Parameter error: ") and message in body["error_msg"]


async def test_job_list_pages_newest_first_and_is_counted(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    """A follower polls every running job with one job-list call per interval; the call log counts them."""
    first = (await api.post(f"{SRC}/recovery", json=restore_body())).json()["job_id"]
    second_body = restore_body(target={"instance_id": w.ORDERS_RESTORE_3_ID})
    second_body["data_node_relations"] = [
        {"source_instance_id": w.ORDERS_RDS_0_ID, "target_instance_id": w.RESTORE_RDS_IDS[5]},
        {"source_instance_id": w.ORDERS_RDS_1_ID, "target_instance_id": w.RESTORE_RDS_IDS[6]},
    ]
    sim.state.clock = lambda: datetime.now(UTC) + timedelta(milliseconds=5)  # a distinct created time
    second = (await api.post(f"{SRC}/recovery", json=second_body)).json()["job_id"]
    window = {"start_time": now_ms() - 86_400_000, "end_time": now_ms() + 60_000}
    pages = [
        (await api.get(f"{DDM}/jobs", params={**window, "offset": offset, "limit": 1})).json()
        for offset in (0, 1, 2, 3)
    ]
    assert [p["total"] for p in pages] == [3, 3, 3, 3]
    assert [[j["id"] for j in p["jobs"]] for p in pages] == [[second], [first], [w.BUSY_JOB_ID], []]
    counted = (await api.get("/_sim/calls/count")).json()
    assert counted["by_route"]["jobs"] == 4 and counted["by_route"]["recovery"] == 2
    assert counted["total"] == sum(counted["by_route"].values()) == len((await api.get("/_sim/calls")).json())
    assert len((await api.get("/_sim/calls", params={"route": "jobs"})).json()) == 4
    refused = await api.get("/_sim/calls", params={"route": "nope"})
    assert refused.status_code == 400 and "route must be one of" in refused.json()["error"]


async def test_unknown_job_and_unknown_route(api: httpx.AsyncClient) -> None:
    job = await api.get(f"{DDM}/jobs/{'0' * 32}")
    assert api_error(job) == (400, "DBS.300400") and "0" * 32 in job.json()["error_msg"]
    route = await api.get(f"{DDM}/no-such-thing")
    assert api_error(route) == (404, "APIGW.0101")
    assert route.headers["X-Request-Id"]
    wrong_method = await api.delete(f"{SRC}/recovery")
    assert api_error(wrong_method) == (404, "APIGW.0101")


async def test_failed_outcome_from_the_control_api(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    set_outcome = await api.post(
        f"/_sim/targets/{w.ORDERS_RESTORE_1_ID}/outcome", json={"outcome": "Failed", "fail_reason": "disk on fire"}
    )
    assert set_outcome.status_code == 200
    job_id = (await api.post(f"{SRC}/recovery", json=restore_body())).json()["job_id"]
    done = await wait_for_job(api, job_id)
    assert done["status"] == "Failed" and done["fail_reason"] == "disk on fire"
    listed = (await api.get(f"{DDM}/jobs", params={"start_time": now_ms() - 60_000, "end_time": now_ms()})).json()
    assert next(j for j in listed["jobs"] if j["id"] == job_id)["fail_reason"] == "disk on fire"
    # The failed target is released: idle and without data nodes, so it can be retried.
    assert sim.state.world.data_nodes_of(w.ORDERS_RESTORE_1_ID) == []
    candidates = (await api.get(f"{SRC}/restorable-instances")).json()["instances"]
    assert next(c for c in candidates if c["instance_id"] == w.ORDERS_RESTORE_1_ID)["available"] is True


async def test_failed_outcome_from_the_world_json() -> None:
    data = demo_world_json()
    target = next(i for i in data["ddm_instances"] if i["id"] == w.ORDERS_RESTORE_1_ID)
    target.update(restore_outcome="Failed", fail_reason="RDS instance crashed during restore")
    async with (
        RunningSimulator(credentials=CREDS, world=world_from_json(data), job_seconds=0.1) as sim,
        local_http(base_url=sim.base_url) as api,
    ):
        api.headers["X-Auth-Token"] = await get_token(api)
        job_id = (await api.post(f"{SRC}/recovery", json=restore_body())).json()["job_id"]
        done = await wait_for_job(api, job_id)
        assert (done["status"], done["fail_reason"]) == ("Failed", "RDS instance crashed during restore")


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(key)


# case -> (how to spoil the valid body, what the message must say)
PARAMETER_ERRORS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "no source": (_without("source"), "source is missing"),
    "no target": (_without("target"), "target is missing"),
    "no relations": (_without("data_node_relations"), "data_node_relations is missing"),
    "restore_time as text": (
        lambda b: b["source"].update(restore_time="1747732352076"),
        'source.restore_time must be epoch milliseconds as a JSON number, not "1747732352076"',
    ),
    "restore_time as bool": (lambda b: b["source"].update(restore_time=True), "not true"),
    "restore_time missing": (lambda b: b["source"].pop("restore_time"), "source.restore_time is missing"),
    "target id missing": (lambda b: b["target"].pop("instance_id"), "target.instance_id is missing"),
    "target id as number": (lambda b: b["target"].update(instance_id=42), "target.instance_id must be a non-empty"),
    "empty relations": (lambda b: b.update(data_node_relations=[]), "data_node_relations is empty"),
    "relations not a list": (lambda b: b.update(data_node_relations={"a": "b"}), "data_node_relations must be a list"),
    "relation without target": (
        lambda b: b["data_node_relations"][0].pop("target_instance_id"),
        "data_node_relations[0].target_instance_id is missing",
    ),
    "restore_time before the window": (
        lambda b: b["source"].update(restore_time=now_ms() - 8 * 86_400_000),
        f"is outside the restorable window of instance {w.ORDERS_PROD_ID}",
    ),
    "restore_time in the future": (
        lambda b: b["source"].update(restore_time=now_ms() + 60_000),
        "is outside the restorable window",
    ),
    "a source dn missing": (
        lambda b: b["data_node_relations"].pop(),
        f"no relation for source data node(s) {w.ORDERS_RDS_1_ID}",
    ),
    "a foreign source dn": (
        lambda b: b["data_node_relations"][1].update(source_instance_id=w.USERS_RDS_IDS[0]),
        f"data_node_relations[1].source_instance_id '{w.USERS_RDS_IDS[0]}' is not a data node of instance",
    ),
    "a target dn used twice": (
        lambda b: b["data_node_relations"][1].update(target_instance_id=w.RESTORE_RDS_IDS[0]),
        "data_node_relations[1].target_instance_id",
    ),
}


@pytest.mark.parametrize("case", list(PARAMETER_ERRORS))
async def test_restore_parameter_errors(sim: RunningSimulator, api: httpx.AsyncClient, case: str) -> None:
    spoil, message = PARAMETER_ERRORS[case]
    body = restore_body()
    spoil(body)
    answer = await api.post(f"{SRC}/recovery", json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["error_code"] == "DBS.280001" and error["error_msg"].startswith("Parameter error: ")
    assert message in error["error_msg"]
    assert sim.state.world.running_job_on(w.ORDERS_RESTORE_1_ID) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"[]", "the body must be a JSON object"),
        (b"", "the body is empty"),
    ],
)
async def test_restore_malformed_body(api: httpx.AsyncClient, content: bytes, message: str) -> None:
    answer = await api.post(f"{SRC}/recovery", content=content, headers={"Content-Type": "application/json"})
    assert api_error(answer) == (400, "DBS.280001")
    assert message in answer.json()["error_msg"]


async def test_restore_from_an_unknown_source(api: httpx.AsyncClient) -> None:
    unknown = "9" * 32 + "in09"
    answer = await api.post(f"{DDM}/instances/{unknown}/backups/recovery", json=restore_body())
    assert api_error(answer) == (400, "DBS.280001")
    assert f"instance_id '{unknown}' is not a DDM instance" in answer.json()["error_msg"]


@pytest.mark.parametrize(
    ("target", "code", "words"),
    [
        (w.ORDERS_PROD_ID, "DBS.300372", "Invalid destination DDM instance."),
        ("0" * 32 + "in09", "DBS.300372", f"target.instance_id '{'0' * 32}in09' is not a DDM instance"),
        (w.LEGACY_DDM_ID, "DBS.300372", "data nodes"),
        (w.USERS_PROD_ID, "DBS.300372", "data nodes"),
        (w.ORDERS_RESTORE_2_ID, "DBS.300372", "being restored"),
    ],
)
async def test_restore_refuses_unusable_targets(api: httpx.AsyncClient, target: str, code: str, words: str) -> None:
    answer = await api.post(f"{SRC}/recovery", json=restore_body(target={"instance_id": target}))
    assert api_error(answer) == (400, code)
    assert words in answer.json()["error_msg"]


@pytest.mark.parametrize(
    ("target_dn", "code", "words"),
    [
        (w.RESTORE_RDS_IDS[4], "DBS.300323", "version 5.7.44 is earlier"),  # older than the source's 8.0
        (w.USERS_RDS_IDS[0], "DBS.300323", "already associated"),  # a data node of users-prod
        ("0" * 32 + "in01", "DBS.300323", "does not exist"),  # no such RDS instance
        (w.RESTORE_RDS_IDS[2], "DBS.300364", "(40 GB) is smaller"),  # 40 GB < 100 GB
    ],
)
async def test_restore_refuses_unusable_target_data_nodes(
    api: httpx.AsyncClient, target_dn: str, code: str, words: str
) -> None:
    body = restore_body()
    body["data_node_relations"][1]["target_instance_id"] = target_dn
    answer = await api.post(f"{SRC}/recovery", json=body)
    assert api_error(answer) == (400, code)
    message = answer.json()["error_msg"]
    assert "data_node_relations[1].target_instance_id" in message and target_dn[:8] in message and words in message


async def test_a_second_restore_on_a_busy_target_is_refused(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{SRC}/recovery", json=restore_body())).status_code == 202
    body = restore_body()
    body["data_node_relations"] = [
        {"source_instance_id": w.ORDERS_RDS_0_ID, "target_instance_id": w.RESTORE_RDS_IDS[3]},
        {"source_instance_id": w.ORDERS_RDS_1_ID, "target_instance_id": w.RESTORE_RDS_IDS[2]},
    ]
    again = await api.post(f"{SRC}/recovery", json=body)
    assert api_error(again) == (400, "DBS.300372")
    assert "being restored" in again.json()["error_msg"]


# ---- the read calls -------------------------------------------------------------------------------------------


async def test_restorable_time_interval(api: httpx.AsyncClient) -> None:
    answer = await api.get(f"{SRC}/restorable-time-interval")
    windows = answer.json()["restorable_time_intervals"]
    assert len(windows) == 1
    start, end = windows[0]["start_time"], windows[0]["end_time"]
    assert API_TIME.match(start) and API_TIME.match(end)
    end_at = datetime.strptime(end, "%Y-%m-%dT%H:%M:%S%z")
    assert timedelta(minutes=4) < datetime.now(UTC) - end_at < timedelta(minutes=6)
    target = await api.get(f"{DDM}/instances/{w.ORDERS_RESTORE_1_ID}/backups/restorable-time-interval")
    assert target.json() == {"restorable_time_intervals": []}


async def test_restorable_instances_show_reasons(api: httpx.AsyncClient) -> None:
    page = (await api.get(f"{SRC}/restorable-instances", params={"offset": 0, "limit": 10})).json()
    assert page["total"] == 6
    by_name = {i["instance_name"]: i for i in page["instances"]}
    assert "orders-prod" not in by_name
    assert by_name["orders-restore-1"]["available"] is True
    assert by_name["orders-restore-1"]["unavailable_reason"] is None
    assert by_name["orders-restore-2"]["available"] is False
    assert "being restored" in by_name["orders-restore-2"]["unavailable_reason"]
    assert by_name["orders-restore-2"]["status"] == "RESTORE"
    assert by_name["legacy-ddm"]["available"] is False
    assert "data nodes" in by_name["legacy-ddm"]["unavailable_reason"]
    assert set(by_name["users-prod"]) == {
        "instance_id",
        "instance_name",
        "status",
        "available",
        "unavailable_reason",
        "vpc_name",
    }
    assert [n for n, i in by_name.items() if i["available"]] == [
        "orders-restore-1",
        "orders-restore-3",
        "orders-restore-4",
    ]
    second = (await api.get(f"{SRC}/restorable-instances", params={"offset": 5, "limit": 2})).json()
    assert len(second["instances"]) == 1 and second["total"] == 6


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be 1..128, not 0"),
        ({"limit": "129"}, "limit must be 1..128, not 129"),
        ({"offset": "-1"}, "offset must be 0 or more, not -1"),
        ({"limit": "ten"}, "limit must be an integer, not 'ten'"),
    ],
)
async def test_paging_out_of_range(api: httpx.AsyncClient, params: dict[str, str], message: str) -> None:
    for path in (f"{DDM}/instances", f"{SRC}/restorable-instances"):
        answer = await api.get(path, params=params)
        assert answer.json() == {"error_code": "DBS.280001", "error_msg": f"Parameter error: {message}"}


async def test_related_dn(api: httpx.AsyncClient) -> None:
    answer = await api.get(f"{SRC}/related-dn", params={"restore_time": now_ms() - 3_600_000})
    assert answer.status_code == 200
    body = answer.json()
    assert [n["instance_name"] for n in body["related_data_nodes"]] == ["orders-rds-0", "orders-rds-1"]
    assert body["related_data_nodes"][0] == {
        "instance_id": w.ORDERS_RDS_0_ID,
        "instance_name": "orders-rds-0",
        "instance_status": "ACTIVE",
        "data_volume_size": 100,
        "version": "8.0.28",
        "engine_name": "MySQL",
    }
    assert isinstance(body["latest_restorable_time"], int)
    assert 240_000 < now_ms() - body["latest_restorable_time"] < 360_000
    too_old = now_ms() - 30 * 86_400_000
    for params, message in (
        ({}, "restore_time is missing"),
        ({"restore_time": "soon"}, "restore_time must be epoch milliseconds, not 'soon'"),
        ({"restore_time": too_old}, f"restore_time {too_old} is outside the restorable window"),
    ):
        refused = await api.get(f"{SRC}/related-dn", params=params)
        assert api_error(refused) == (400, "DBS.280001") and message in refused.json()["error_msg"]


async def test_restorable_data_node(api: httpx.AsyncClient) -> None:
    params: dict[str, str] = {
        "target_instance_id": w.ORDERS_RESTORE_1_ID,
        "source_dn_instance_id": w.ORDERS_RDS_0_ID,
        "restore_time": str(now_ms() - 3_600_000),
    }
    answer = await api.get(f"{SRC}/restorable-data-node", params=params)
    assert answer.status_code == 200
    nodes = {n["instance_name"]: n for n in answer.json()["target_data_nodes"]}
    assert set(nodes) == {f"restore-rds-{n}" for n in range(9)}  # only RDS instances without a DDM
    assert [name for name, n in sorted(nodes.items()) if n["available"]] == [
        f"restore-rds-{n}" for n in (0, 1, 3, 5, 6, 7, 8)
    ]
    assert "storage" in nodes["restore-rds-2"]["unavailable_reason"]
    assert "version" in nodes["restore-rds-4"]["unavailable_reason"]
    assert set(nodes["restore-rds-0"]) == {
        "instance_id",
        "instance_name",
        "engine_name",
        "status",
        "available",
        "unavailable_reason",
        "vpc_name",
        "private_ip",
    }
    bad_params: list[tuple[dict[str, str], str]] = [
        ({"source_dn_instance_id": w.USERS_RDS_IDS[0]}, f"source_dn_instance_id '{w.USERS_RDS_IDS[0]}' is not a data"),
        ({"target_instance_id": "nope"}, "target_instance_id 'nope' is not a DDM instance"),
        ({"target_instance_id": w.ORDERS_PROD_ID}, "is the source instance itself"),
        ({"target_instance_id": ""}, "target_instance_id is missing"),
        ({"restore_time": "x"}, "restore_time must be epoch milliseconds, not 'x'"),
    ]
    for bad, message in bad_params:
        refused = await api.get(f"{SRC}/restorable-data-node", params={**params, **bad})
        assert api_error(refused) == (400, "DBS.280001") and message in refused.json()["error_msg"]


# ---- faults and latency ---------------------------------------------------------------------------------------


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> None:
    answer = await client.post("/_sim/faults", json=spec)
    assert answer.status_code == 201, answer.text


async def test_fault_500(api: httpx.AsyncClient) -> None:
    await add_fault(api, route="list_instances", kind="500", count=2)
    for _ in range(2):
        answer = await api.get(f"{DDM}/instances")
        assert answer.json() == {"error_code": "DBS.200412", "error_msg": "Server failure."}
        assert answer.status_code == 500 and answer.headers["X-Request-Id"]
    assert (await api.get(f"{DDM}/instances")).status_code == 200


async def test_fault_429_with_retry_after(api: httpx.AsyncClient) -> None:
    await add_fault(api, route="*", kind="429", retry_after=7)
    answer = await api.get(f"{SRC}/restorable-time-interval")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    body = answer.json()
    assert body["error_code"] == "APIGW.0308" and "throttling threshold" in body["error_msg"]
    assert body["request_id"] == answer.headers["X-Request-Id"]


async def test_fault_timeout(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    await add_fault(api, route="job", kind="timeout", delay_seconds=0.2)
    started = time.monotonic()
    answer = await api.get(f"{DDM}/jobs/{w.BUSY_JOB_ID}")
    assert time.monotonic() - started >= 0.2
    assert api_error(answer) == (504, "APIGW.0202")
    # A client that gives up earlier just sees a timeout.
    await add_fault(api, route="job", kind="timeout", delay_seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        await api.get(f"{DDM}/jobs/{w.BUSY_JOB_ID}", timeout=0.2)


async def test_fault_timeout_without_execute_does_nothing(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    await add_fault(api, route="recovery", kind="timeout", delay_seconds=0.1)
    assert (await api.post(f"{SRC}/recovery", json=restore_body())).status_code == 504
    assert sim.state.world.running_job_on(w.ORDERS_RESTORE_1_ID) is None


async def test_fault_timeout_with_execute_creates_the_job(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    await add_fault(api, route="recovery", kind="timeout", delay_seconds=5, execute=True)
    with pytest.raises(httpx.ReadTimeout):
        await api.post(f"{SRC}/recovery", json=restore_body(), timeout=0.3)
    # The client never heard, but the service did the work: the job list tells (how a client reconciles).
    jobs = (await api.get(f"{DDM}/jobs", params={"start_time": now_ms() - 60_000, "end_time": now_ms()})).json()
    mine = [j for j in jobs["jobs"] if j["instance_id"] == w.ORDERS_RESTORE_1_ID]
    assert len(mine) == 1 and mine[0]["name"] == "RestoreInstance"


async def test_fault_malformed(api: httpx.AsyncClient) -> None:
    await add_fault(api, route="restorable_instances", kind="malformed")
    answer = await api.get(f"{SRC}/restorable-instances")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    assert answer.content.startswith(b'{"instances"')


async def test_fault_html(api: httpx.AsyncClient) -> None:
    await add_fault(api, route="related_dn", kind="html")
    answer = await api.get(f"{SRC}/related-dn", params={"restore_time": now_ms() - 60_000})
    assert answer.status_code == 502 and answer.headers["Content-Type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in answer.text


async def held_count(client: httpx.AsyncClient) -> int:
    return int((await client.get("/_sim/faults")).json()["held"])


async def wait_until_held(client: httpx.AsyncClient, count: int = 1) -> None:
    for _ in range(100):
        if await held_count(client) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the call was never parked")


async def test_fault_hold_and_release(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    await add_fault(api, route="recovery", kind="hold")
    call = asyncio.create_task(api.post(f"{SRC}/recovery", json=restore_body()))
    await wait_until_held(api)
    assert not call.done()
    assert sim.state.world.running_job_on(w.ORDERS_RESTORE_1_ID) is None  # parked before the service acts
    assert (await api.post("/_sim/release")).json() == {"released": 1}
    answer = await call
    assert answer.status_code == 202
    assert sim.state.world.running_job_on(w.ORDERS_RESTORE_1_ID) is not None


async def test_fault_hold_with_execute(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    await add_fault(api, route="recovery", kind="hold", execute=True)
    call = asyncio.create_task(api.post(f"{SRC}/recovery", json=restore_body()))
    await wait_until_held(api)
    job = sim.state.world.running_job_on(w.ORDERS_RESTORE_1_ID)
    assert job is not None  # done, but the client has not heard yet
    await api.post("/_sim/release")
    assert (await call).json() == {"job_id": job.id}


async def test_fault_on_iam_token(client: httpx.AsyncClient) -> None:
    await add_fault(client, route="iam_token", kind="500")
    assert (await client.post("/v3/auth/tokens", json=token_body())).status_code == 500
    assert (await client.post("/v3/auth/tokens", json=token_body())).status_code == 201


async def test_auth_is_checked_before_faults(client: httpx.AsyncClient) -> None:
    await add_fault(client, route="list_instances", kind="500")
    assert (await client.get(f"{DDM}/instances")).status_code == 401
    faults = (await client.get("/_sim/faults")).json()["faults"]
    assert len(faults) == 1  # a refused call does not use the fault up
    assert (await client.delete("/_sim/faults")).status_code == 200
    assert (await client.get("/_sim/faults")).json()["faults"] == []


async def test_bad_fault_specs_are_refused(client: httpx.AsyncClient) -> None:
    for spec in (
        {"route": "nope", "kind": "500"},
        {"route": "job", "kind": "boom"},
        {"route": "job", "kind": "500", "count": 0},
    ):
        answer = await client.post("/_sim/faults", json=spec)
        assert answer.status_code == 400 and answer.json()["error"]


async def test_latency(api: httpx.AsyncClient) -> None:
    assert (await api.post("/_sim/latency", json={"route": "list_instances", "seconds": 0.3})).status_code == 200
    started = time.monotonic()
    assert (await api.get(f"{DDM}/instances")).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert (await api.get(f"{SRC}/restorable-time-interval")).status_code == 200
    assert time.monotonic() - started < 0.25


# ---- the control API and the world ----------------------------------------------------------------------------


async def test_calls_are_recorded_without_secrets(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    await api.get(f"{DDM}/instances", params={"limit": 5})
    calls = (await api.get("/_sim/calls")).json()
    assert [c["route"] for c in calls] == ["iam_token", "list_instances"]
    token_call, list_call = calls
    assert token_call["status"] == 201 and token_call["query"] == {"nocatalog": "true"}
    assert token_call["body"]["auth"]["identity"]["password"]["user"]["password"] == "******"
    assert list_call["query"] == {"limit": "5"} and list_call["auth"] == "token" and list_call["status"] == 200
    assert list_call["method"] == "GET" and list_call["path"] == f"{DDM}/instances" and list_call["at"]
    dump = json.dumps(calls)
    assert "Corr3ct-Horse!" not in dump and api.headers["X-Auth-Token"] not in dump
    only = (await api.get("/_sim/calls", params={"route": "list_instances"})).json()
    assert len(only) == 1
    await api.delete("/_sim/calls")
    assert (await api.get("/_sim/calls")).json() == []


async def test_world_dump_and_healthz(api: httpx.AsyncClient) -> None:
    health = await api.get("/healthz")
    assert health.status_code == 200 and health.headers["X-Request-Id"]
    dump = (await api.get("/_sim/world")).json()
    assert {"now", "ddm_instances", "rds_instances", "jobs"} <= set(dump)
    assert len(dump["ddm_instances"]) == 7 and len(dump["jobs"]) == 2


def test_example_world_file_equals_the_demo_world() -> None:
    assert json.loads(EXAMPLE_WORLD.read_text()) == demo_world_json()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert load_world(EXAMPLE_WORLD, now=now).to_json() == w.demo_world(now=now).to_json()


async def test_world_loaded_from_the_example_json() -> None:
    world = load_world(EXAMPLE_WORLD)
    assert isinstance(world, World)
    async with (
        RunningSimulator(credentials=CREDS, world=world, job_seconds=0.1) as sim,
        local_http(base_url=sim.base_url) as api,
    ):
        api.headers["X-Auth-Token"] = await get_token(api)
        page = (await api.get(f"{DDM}/instances")).json()
        assert [i["name"] for i in page["instances"]][:2] == ["orders-prod", "users-prod"]
        assert sim.state.world is world


def test_world_absolute_times_and_errors(tmp_path: Path) -> None:
    data = {
        "ddm_instances": [
            {
                "id": "a" * 32 + "in09",
                "name": "src",
                "restorable_windows": [{"start": "2025-05-20T09:40:40Z", "end": "2025-05-21T09:40:40+00:00"}],
            }
        ],
        "rds_instances": [{"id": "b" * 32 + "in01", "name": "dn", "ddm_instance_id": "a" * 32 + "in09"}],
    }
    world = world_from_json(data)
    window = world.ddm_instances[0].restorable_windows[0].resolve(datetime.now(UTC))
    assert window[0] == datetime(2025, 5, 20, 9, 40, 40, tzinfo=UTC)
    bad_cases: list[Any] = [
        {"ddm_instances": [{"id": "x"}]},
        {"ddm_instances": [{"id": "x", "name": "y", "colour": "red"}]},
        {"rds_instances": [{"id": "x", "name": "y", "ddm_instance_id": "nope"}]},
        {"ddm_instances": [{"id": "x", "name": "y", "restorable_windows": [{"start": -1, "end": "yesterday"}]}]},
        [],
    ]
    for bad in bad_cases:
        with pytest.raises(WorldError):
            world_from_json(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(WorldError):
        load_world(broken)


# ---- for people: reset, several restores in one demo, world errors that name the field ---------------------------


def restore_onto(target: str, dns: tuple[str, str]) -> dict[str, Any]:
    body = restore_body(target={"instance_id": target})
    body["data_node_relations"] = [
        {"source_instance_id": w.ORDERS_RDS_0_ID, "target_instance_id": dns[0]},
        {"source_instance_id": w.ORDERS_RDS_1_ID, "target_instance_id": dns[1]},
    ]
    return body


async def test_the_demo_world_takes_three_restores_without_a_restart(api: httpx.AsyncClient) -> None:
    free = [w.RESTORE_RDS_IDS[n] for n in (0, 1, 3, 5, 6, 7)]
    jobs = []
    for n, target in enumerate(w.FREE_TARGET_IDS):
        answer = await api.post(f"{SRC}/recovery", json=restore_onto(target, (free[2 * n], free[2 * n + 1])))
        assert answer.status_code == 202, answer.text
        jobs.append(answer.json()["job_id"])
    done = [await wait_for_job(api, job_id) for job_id in jobs]
    assert [j["status"] for j in done] == ["Completed"] * 3
    assert [j["instance"]["id"] for j in done] == list(w.FREE_TARGET_IDS)
    # All used now: a fourth restore has no free target left.
    candidates = (await api.get(f"{SRC}/restorable-instances")).json()["instances"]
    assert [c["instance_name"] for c in candidates if c["available"]] == []


async def test_reset_puts_the_world_back_to_its_seed(sim: RunningSimulator, api: httpx.AsyncClient) -> None:
    job_id = (await api.post(f"{SRC}/recovery", json=restore_body())).json()["job_id"]
    await add_fault(api, route="jobs", kind="500", count=3)
    assert (await api.post("/_sim/latency", json={"route": "job", "seconds": 0.01})).status_code == 200
    await api.post(f"/_sim/targets/{w.ORDERS_RESTORE_3_ID}/outcome", json={"outcome": "Failed", "fail_reason": "drill"})
    await add_fault(api, route="list_instances", kind="hold")
    parked = asyncio.create_task(api.get(f"{DDM}/instances"))
    await wait_until_held(api)
    calls_before = len(sim.state.calls)

    answer = await api.post("/_sim/reset")
    assert answer.status_code == 200
    assert answer.json() == {
        "reset": True,
        "jobs_removed": 1,
        "targets_freed": ["orders-restore-1"],
        "faults_cleared": 1,
        "latency_cleared": ["job"],
        "calls_released": 1,
        "calls_cleared": calls_before,
        "world": {"ddm_instances": 7, "rds_instances": 17, "jobs": 2},
    }
    assert (await parked).status_code == 200  # the parked call went on instead of hanging
    # The job is gone, the target free, the faults and the drill outcome undone; the token still works.
    assert api_error(await api.get(f"{DDM}/jobs/{job_id}")) == (400, "DBS.300400")
    candidates = (await api.get(f"{SRC}/restorable-instances")).json()["instances"]
    assert [c["instance_id"] for c in candidates if c["available"]] == list(w.FREE_TARGET_IDS)
    window = {"start_time": now_ms() - 86_400_000, "end_time": now_ms()}
    assert (await api.get(f"{DDM}/jobs", params=window)).json()["total"] == 1
    assert [i.restore_outcome for i in sim.state.world.ddm_instances] == ["Completed"] * 7
    assert (await api.get("/_sim/faults")).json() == {"faults": [], "latency": {}, "held": 0}
    assert [c["route"] for c in (await api.get("/_sim/calls")).json()] == ["job", "restorable_instances", "jobs"]
    assert (await api.post(f"{SRC}/recovery", json=restore_body())).status_code == 202  # the same restore again


async def test_reset_of_a_given_world_goes_back_to_that_world() -> None:
    data = demo_world_json()
    data["ddm_instances"] = [i for i in data["ddm_instances"] if i["id"] != w.ORDERS_RESTORE_4_ID]
    async with (
        RunningSimulator(credentials=CREDS, world=world_from_json(data), job_seconds=0.1) as sim,
        local_http(base_url=sim.base_url) as api,
    ):
        api.headers["X-Auth-Token"] = await get_token(api)
        assert (await api.post(f"{SRC}/recovery", json=restore_body())).status_code == 202
        answer = (await api.post("/_sim/reset")).json()
        assert answer["jobs_removed"] == 1 and answer["world"]["ddm_instances"] == 6
        assert sim.state.world.running_job_on(w.ORDERS_RESTORE_1_ID) is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"ddm_instances": [{"id": "x"}]}, "ddm_instances[0].name: missing"),
        ({"ddm_instances": [{"id": "x", "name": "y", "colour": "red"}]}, "ddm_instances[0].colour: unknown field"),
        ({"ddm_instances": [{"id": "", "name": "y"}]}, "ddm_instances[0].id: String should have at least 1"),
        (
            {"rds_instances": [{"id": "r", "name": "n", "data_volume_size": "big"}]},
            "rds_instances[0].data_volume_size:",
        ),
        ({"rds_instances": [{"id": "x", "name": "y", "ddm_instance_id": "nope"}]}, "rds_instances[0].ddm_instance_id:"),
        ({"jobs": [{"id": "j", "instance_id": "x", "status": "Done"}]}, "jobs[0].status: Input should be 'Running'"),
        (
            {"ddm_instances": [{"id": "x", "name": "y", "restorable_windows": [{"start": -1, "end": "yesterday"}]}]},
            "ddm_instances[0].restorable_windows[0].end: 'yesterday' is not an ISO-8601 time",
        ),
        (
            {"ddm_instances": [{"id": "x", "name": "y", "restorable_windows": [{"start": -1, "end": -5}]}]},
            "ddm_instances[0].restorable_windows[0]: start is after end",
        ),
        ({"ddm_instances": [{"id": "x", "name": "a"}, {"id": "x", "name": "b"}]}, "ddm_instances[1].id: duplicate"),
        ([], "world: must be a JSON object"),
    ],
)
def test_world_errors_name_the_bad_field(bad: Any, message: str) -> None:
    with pytest.raises(WorldError) as caught:
        world_from_json(bad)
    assert message in str(caught.value)


def test_world_json_round_trips() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    world = w.demo_world(now=now)
    assert world_from_json(world.to_json(), now=now).to_json() == world.to_json()


OTHER_PROJECT = "fedcba9876543210fedcba9876543210"


async def test_several_projects_one_world_each() -> None:
    """Two identities, two projects, two worlds: each identity reaches its own project only."""
    from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
    from bot.huawei.ddm import DdmClient

    other = SimulatorCredentials(
        project_id=OTHER_PROJECT,
        ak="OTHERAKEXAMPLE000000",
        sk="other-sk-not-a-real-secret-0000000000",
        username="ddm-bot-staging",
        password="Other-Pass!",
        domain="acme",
    )
    async with RunningSimulator(credentials=CREDS, job_seconds=0.3, more=((other, None),)) as sim:
        other_world = sim.state.projects[OTHER_PROJECT].world
        assert other_world is not sim.state.world
        provider = IamTokenProvider(
            iam_endpoint=sim.base_url,
            username="ddm-bot-staging",
            password="Other-Pass!",
            domain="acme",
            project_id=OTHER_PROJECT,
        )
        try:
            async with DdmClient(endpoint=sim.base_url, project_id=OTHER_PROJECT, auth=TokenAuth(provider)) as ddm:
                assert len(await ddm.list_instances()) == 7
        finally:
            await provider.aclose()
        other_auth = AkSkAuth(ak=other.ak or "", sk=other.sk or "", project_id=OTHER_PROJECT)
        async with local_http(base_url=sim.base_url) as client:
            source = f"/v3/{OTHER_PROJECT}/instances/{w.ORDERS_PROD_ID}/backups"
            answer = await client.post(f"{source}/recovery", json=restore_body(), auth=other_auth)
            assert answer.status_code == 202, answer.text
            job_id = answer.json()["job_id"]
            assert [j.id for j in other_world.jobs if j.id == job_id] == [job_id]
            assert all(j.id != job_id for j in sim.state.world.jobs)
            # The first project's identity cannot reach the other project, nor the other's the first.
            first_auth = AkSkAuth(ak=CREDS.ak or "", sk=CREDS.sk or "", project_id=PROJECT)
            for auth, project in ((first_auth, OTHER_PROJECT), (other_auth, PROJECT)):
                answer = await client.get(f"/v3/{project}/instances", auth=auth)
                assert answer.status_code in (401, 403), answer.text


# ---- after a restore: the V1 calls the verification reads (fields as the SDK's ShowInstanceResponse) -------------

V1 = f"/v1/{PROJECT}/instances"


async def test_a_restored_target_shows_restore_then_settles_running_with_its_new_schemas() -> None:
    clock = Clock()
    async with (
        RunningSimulator(credentials=CREDS, job_seconds=10, settle_seconds=5, clock=clock) as sim,
        httpx.AsyncClient(base_url=sim.base_url, timeout=5.0) as api,
    ):
        api.headers["X-Auth-Token"] = await get_token(api)
        target = f"{V1}/{w.ORDERS_RESTORE_1_ID}"
        before = (await api.get(target)).json()
        assert before["status"] == "RUNNING" and (await api.get(f"{target}/databases")).json() == {
            "databases": [],
            "total": 0,
        }
        started = await api.post(f"{SRC}/recovery", json=restore_body())
        assert started.status_code == 202
        assert (await api.get(target)).json()["status"] == "RESTORE"  # during the job
        clock.now += timedelta(seconds=11)
        assert (await api.get(target)).json()["status"] == "RESTORE"  # the job ended; still settling
        clock.now += timedelta(seconds=5)
        details = (await api.get(target)).json()
        assert details["status"] == "RUNNING"
        assert {"id", "name", "access_ip", "access_port", "engine_version", "nodes", "node_count"} <= set(details)
        assert isinstance(details["access_port"], str) and len(details["nodes"]) == details["node_count"]
        assert {"status", "port", "ip"} <= set(details["nodes"][0])
        schemas = (await api.get(f"{target}/databases", params={"offset": 0, "limit": 128})).json()
        assert [d["name"] for d in schemas["databases"]] == ["orders", "payments"] and schemas["total"] == 2
        assert {r["id"] for r in schemas["databases"][0]["used_rds"]} == set(w.RESTORE_RDS_IDS[:2])


async def test_a_target_told_to_stay_abnormal_does_and_its_address_can_be_pointed_elsewhere(
    sim: RunningSimulator, api: httpx.AsyncClient
) -> None:
    target = f"/_sim/targets/{w.ORDERS_RESTORE_1_ID}"
    assert (await api.post(f"{target}/after-restore", json={"status": "ABNORMAL"})).status_code == 200
    assert (await api.post(f"{target}/access", json={"ip": "127.0.0.1", "port": 3306})).status_code == 200
    job = (await api.post(f"{SRC}/recovery", json=restore_body())).json()["job_id"]
    assert (await wait_for_job(api, job))["status"] == "Completed"
    details = (await api.get(f"{V1}/{w.ORDERS_RESTORE_1_ID}")).json()
    assert details["status"] == "ABNORMAL" and (details["access_ip"], details["access_port"]) == ("127.0.0.1", "3306")
    assert (await api.post(f"{target}/access", json={"ip": None, "port": None})).json()["access_ip"] is None
    refused = await api.post(f"{target}/access", json={"ip": "127.0.0.1", "port": 70000})
    assert refused.status_code == 400 and "port must be 1..65535" in refused.json()["error"]
    assert (await api.post(f"{target}/after-restore", json={"status": ""})).status_code == 400
    assert (await api.post("/_sim/targets/nope/after-restore", json={"status": "RUNNING"})).status_code == 404


async def test_v1_errors_are_errcode_and_externalmessage(api: httpx.AsyncClient) -> None:
    unknown = await api.get(f"{V1}/nosuchin09")
    assert unknown.status_code == 400
    assert unknown.json()["errCode"] == "DBS.280001" and "nosuchin09" in unknown.json()["externalMessage"]
    await api.post("/_sim/faults", json={"route": "databases", "kind": "500"})
    failed = await api.get(f"{V1}/{w.ORDERS_PROD_ID}/databases")
    assert failed.status_code == 500 and failed.json() == {
        "errCode": "DBS.200412",
        "externalMessage": "Server failure.",
    }
    await api.post("/_sim/faults", json={"route": "instance", "kind": "400", "error_code": "DBS.1", "error_msg": "no"})
    assert (await api.get(f"{V1}/{w.ORDERS_PROD_ID}")).json() == {"errCode": "DBS.1", "externalMessage": "no"}
    assert api_error(await api.get(f"{DDM}/jobs/nosuchjob")) == (400, "DBS.300400")  # V3 stays V3
