"""The bot's DDM client against the simulator: its credentials, a client with quick retries, a plan made from
the gateway's own answers, and the simulator's control API (faults, recorded calls)."""

from __future__ import annotations

import socket
from typing import Any

from bot.huawei.auth import AkSkAuth
from bot.huawei.budget import CallBudget
from bot.huawei.ddm import DdmClient
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.huawei.retry import RetryPolicy, Timeouts
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.simulator import RunningSimulator, SimulatorCredentials
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID
from tests.support.http import local_http

PROJECT = "0123456789abcdef0123456789abcdef"
AK = "TESTAKEXAMPLE0000000"
CREDS = SimulatorCredentials(
    project_id=PROJECT, ak=AK, sk="test-secret-key", username="restore-bot", password="s3cret-Passw0rd", domain="acme"
)
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def client_for(endpoint: str, budget: CallBudget | None = None, **kwargs: Any) -> DdmClient:
    return DdmClient(
        endpoint=endpoint,
        project_id=PROJECT,
        auth=AkSkAuth(ak=AK, sk="test-secret-key", project_id=PROJECT),
        retry=FAST_RETRY,
        timeouts=kwargs.pop("timeouts", Timeouts(connect=1, read=0.5)),
        region="cn-north-4",
        budget=budget,
    )


async def fault(sim: RunningSimulator, **spec: Any) -> None:
    async with local_http() as http:
        answer = await http.post(f"{sim.base_url}/_sim/faults", json=spec)
        assert answer.status_code < 300, answer.text


async def calls(sim: RunningSimulator, route: str) -> list[dict[str, Any]]:
    async with local_http() as http:
        return list((await http.get(f"{sim.base_url}/_sim/calls", params={"route": route})).json())


async def a_plan(gateway: HuaweiDdmGateway, target: str = ORDERS_RESTORE_1_ID) -> RestorePlan:
    """A plan the way the form builds one, from the gateway's own answers."""
    windows = await gateway.windows(ORDERS_PROD_ID)
    restore_ms = windows[-1].end_ms - 60_000
    mappings = []
    used: set[str] = set()
    for node in await gateway.source_data_nodes(ORDERS_PROD_ID, restore_ms):
        options = await gateway.data_node_candidates(
            ORDERS_PROD_ID, target_id=target, source_node_id=node.id, restore_time_ms=restore_ms
        )
        pick = next(c for c in options if c.available and c.id not in used)
        used.add(pick.id)
        mappings.append(DataNodeMapping(source=NamedRef(id=node.id, name=node.name), target=NamedRef(id=pick.id)))
    return RestorePlan(
        project_id=PROJECT,
        region="cn-north-4",
        source=NamedRef(id=ORDERS_PROD_ID, name="orders-prod"),
        target=NamedRef(id=target),
        restore_time_ms=restore_ms,
        mappings=tuple(mappings),
    )


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"
