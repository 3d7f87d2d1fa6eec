"""Liveness while DDM hangs and Slack answers late: /healthz stays 200 throughout, /readyz names DDM, and
afterwards every restore completes, once.

The incident was DDM hanging for three minutes during running restores, and Slack answering 10 s late. A test
can't wait minutes, so the bounds are scaled down instead: the Huawei timeouts are 0.3 s (connect) and 0.7 s
(read) and the lease 2 s, which bounds every DDM call at a few seconds (`Timeouts.read_deadline`), and DDM hangs
for twice the longest of those bounds: what matters is that the hang outlasts every bound, so that each one
is reached. Slack is 10 s late as in the incident (its bounds are fixed, and longer)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot.restore.request import RequestState as S
from bot.simulator.demo import ORDERS_RESTORE_1_ID, ORDERS_RESTORE_3_ID, ORDERS_RESTORE_4_ID
from tests.support.harness import BotHarness, running_bot, until

CONNECT, READ, LEASE = 0.3, 0.7, 2.0
SLACK_LATE_SECONDS = 10.0
SLOW_SLACK = ("chat.postMessage", "chat.update")
# What /healthz allowed before: three intervals of a loop (the announcer's is 1 s, the follower's 0.1 s here).
OLD_ANNOUNCER_ALLOWANCE, OLD_FOLLOWER_ALLOWANCE = 3.0, 1.0


async def test_healthz_stays_200_while_ddm_hangs_and_slack_is_late(tmp_path: Path) -> None:
    async with running_bot(
        tmp_path,
        job_seconds=4.0,
        huaweicloud_connect_timeout_seconds=CONNECT,
        huaweicloud_read_timeout_seconds=READ,
        job_lease_seconds=LEASE,
    ) as h:
        base = h.url.rsplit("/slack/events", 1)[0]
        running = []
        for target in (ORDERS_RESTORE_1_ID, ORDERS_RESTORE_3_ID):
            request = await h.request_restore(target=target)
            await h.click("approve_request", request, user="UBOB")
            running.append(await h.wait_request(lambda r: r.state is S.RUNNING, request_id=request.id))
        pending = await h.request_restore(target=ORDERS_RESTORE_4_ID)

        # The longest DDM bound: a form's read (1.5 s for a slot of the call budget, then two tries at full
        # timeouts and a second of backoff; the follower waits LEASE / 2 for its slot, readiness probes for 1 s).
        longest = max(LEASE / 2, 1.5) + 2 * (CONNECT + READ) + 1
        hang = 2 * longest
        await h.sim_fault(route="*", kind="hold", count=100_000)
        for method in SLOW_SLACK:
            h.fake.set_delay(method, SLACK_LATE_SECONDS)
        # The requester cancels meanwhile: the card and the thread have news for a Slack that is slow now.
        await h.click("cancel_request", pending, user="UALICE")

        statuses: list[int] = []
        in_step: dict[str, float] = {}
        ddm_named: dict[str, Any] | None = None
        ends = time.monotonic() + hang
        while time.monotonic() < ends:
            health = await h.http.get(f"{base}/healthz")
            statuses.append(health.status_code)
            assert health.status_code == 200, health.text
            for name, loop in health.json()["loops"].items():
                in_step[name] = max(in_step.get(name, 0.0), loop.get("in_step_seconds", 0.0))
            if ddm_named is None:
                ready = await h.http.get(f"{base}/readyz")
                checks = ready.json()["checks"]
                if ready.status_code == 503 and not checks["ddm"]["ok"]:
                    assert checks["database"]["ok"] and checks["slack"]["ok"], checks
                    ddm_named = checks["ddm"]
            await asyncio.sleep(0.2)

        assert len(statuses) > 20 and set(statuses) == {200}
        assert ddm_named is not None and "project" in ddm_named["detail"], ddm_named
        # The incident did happen here: steps ran far longer than the old liveness allowed.
        assert in_step["announcer"] > OLD_ANNOUNCER_ALLOWANCE, in_step
        assert in_step["follower"] > OLD_FOLLOWER_ALLOWANCE, in_step

        await h.http.delete(f"{h.sim.base_url}/_sim/faults")
        await h.http.post(f"{h.sim.base_url}/_sim/release")
        for method in SLOW_SLACK:
            h.fake.set_delay(method, 0)

        await every_restore_completes_once(h, [r.id for r in running])
        await h.wait_request(lambda r: r.state is S.CANCELLED, request_id=pending.id)
        assert len(await h.sim_calls("recovery")) == len(running)  # each restore was sent once
        await until(lambda: True if h.runtime.health()[0] else None, 5, lambda: f"unhealthy: {h.runtime.health()[1]}")
        ready = await h.http.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text


async def every_restore_completes_once(h: BotHarness, ids: list[str]) -> None:
    for request_id in ids:
        done = await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request_id, timeout=30)
        await h.wait_thread(done, "Restore completed", timeout=30)
    await asyncio.sleep(0.3)  # a second "completed" would be on its way by now
    for request_id in ids:
        request = await h.runtime.store.get(request_id)
        assert request is not None and request.state is S.VERIFIED
        assert sum("Restore completed" in text for text in h.thread_texts(request)) == 1
