"""A restore proven end to end: the bot, the fake Slack, the DDM simulator and the machine's MariaDB standing in
for the restored target's MySQL endpoint. Verified with a SQL check passing; a failing check and a target that
stays abnormal each end as "verification failed", named; DDM down during the verification is said in the thread
and retried within the bound; an account the target refuses fails at the bound saying so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.restore.request import RequestState as S
from bot.restore.request import RestoreRequest
from bot.simulator.world import ORDERS_RESTORE_1_ID
from tests.support.environments import prod
from tests.support.harness import CREDENTIALS, BotHarness, running_bot, until
from tests.support.mariadb import ReadOnlyDatabase, read_only_database

VERIFY = """
[environment.verify]
user_env = "PROD_VERIFY_USER"
password_env = "PROD_VERIFY_PASSWORD"
timeout_seconds = 5
ready_within_minutes = {ready}

[[environment.verify.check]]
name = "orders restored"
database = "{database}"
sql = "SELECT COUNT(*) FROM orders"
expect = ">= 1"
"""


def environments(db: ReadOnlyDatabase, ready_within_minutes: float = 0.25) -> str:
    return prod("COPS") + VERIFY.format(database=db.database, ready=ready_within_minutes)


@pytest.fixture(autouse=True)
def ddm_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


@pytest_asyncio.fixture
async def orders(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ReadOnlyDatabase]:
    """A read-only account on a database whose `orders` has 3 rows (the restored data)."""
    async with read_only_database(orders=3) as db:
        monkeypatch.setenv("PROD_VERIFY_USER", db.user)
        monkeypatch.setenv("PROD_VERIFY_PASSWORD", db.password)
        yield db


@pytest_asyncio.fixture
async def no_orders(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ReadOnlyDatabase]:
    """The same, with `orders` empty: the restore lost them."""
    async with read_only_database(orders=0) as db:
        monkeypatch.setenv("PROD_VERIFY_USER", db.user)
        monkeypatch.setenv("PROD_VERIFY_PASSWORD", db.password)
        yield db


async def restored(h: BotHarness, db: ReadOnlyDatabase, *, after_restore: str = "RUNNING") -> RestoreRequest:
    """The target speaks MySQL at the MariaDB (as told by the simulator's control API); a request approved and
    its job completed. Returns the request once its verification ended."""
    answer = await h.http.post(
        f"{h.sim.base_url}/_sim/targets/{ORDERS_RESTORE_1_ID}/access", json={"ip": db.host, "port": db.port}
    )
    assert answer.status_code == 200, answer.text
    answer = await h.http.post(
        f"{h.sim.base_url}/_sim/targets/{ORDERS_RESTORE_1_ID}/after-restore", json={"status": after_restore}
    )
    assert answer.status_code == 200, answer.text
    request = await h.request_restore()
    await h.click("approve_request", request, user="UBOB")
    return await h.wait_request(lambda r: r.state in (S.VERIFIED, S.VERIFY_FAILED), request_id=request.id, timeout=30)


def dms_to(h: BotHarness, user: str) -> list[str]:
    return [str(c.args.get("text")) for c in h.fake.calls_of("chat.postMessage") if c.args.get("channel") == user]


async def test_a_restore_ends_verified_with_ddm_s_facts_and_a_sql_check_passing(
    tmp_path: Path, orders: ReadOnlyDatabase
) -> None:
    async with running_bot(tmp_path, environments=environments(orders), settle_seconds=0.5) as h:
        done = await restored(h, orders)
        assert done.state is S.VERIFIED, done.error_msg
        await h.wait_thread(done, "Restore completed")
        verified = await h.wait_thread(done, "✅ Verified")
        assert verified == (
            f"✅ Verified: orders-restore-1 is RUNNING at {orders.host}:{orders.port} · 2/2 data nodes as planned · "
            "1/1 checks passed"
        )
        card = await h.wait_card(done, "· verified")
        assert "and it checked out" in card and "will be overwritten" not in card
        dm = await until(
            lambda: next((t for t in dms_to(h, "UALICE") if done.id in t), None), 5, lambda: "no DM to the requester"
        )
        assert f"`{orders.host}:{orders.port}`" in dm and "restored and verified" in dm
        trail = await h.runtime.store.audit_trail(done.id)
        assert [r.action for r in trail][-2:] == ["job_completed", "verified"]
        facts = trail[-1].details
        assert facts["status"] == "RUNNING" and facts["data_nodes"] == {"as_planned": 2, "planned": 2}
        assert facts["checks"] == [
            {"name": "orders restored", "expect": ">= 1", "value": "3", "problem": None, "ok": True}
        ]
        assert "example.com" not in json.dumps(facts)  # nothing of the data but the one number
        # It waited for the target to settle: it asked DDM while the target still showed RESTORE.
        assert len(await h.sim_calls("instance")) >= 2


async def test_a_failing_check_ends_as_verification_failed_named(tmp_path: Path, no_orders: ReadOnlyDatabase) -> None:
    async with running_bot(tmp_path, environments=environments(no_orders)) as h:
        done = await restored(h, no_orders)
        assert done.state is S.VERIFY_FAILED
        assert done.error_msg == "orders restored: got 0, expected >= 1"
        failed = await h.wait_thread(done, "⚠️ Verification failed")
        # Slack's mrkdwn writes ">" as "&gt;" (people read ">=").
        assert failed == "⚠️ Verification failed: orders restored: got 0, expected &gt;= 1. <@UALICE> <@UBOB>"
        card = await h.wait_card(done, "completed, verification failed")
        assert "orders restored: got 0, expected &gt;= 1" in card


async def test_a_target_that_stays_abnormal_ends_as_verification_failed_named(
    tmp_path: Path, orders: ReadOnlyDatabase
) -> None:
    async with running_bot(tmp_path, environments=environments(orders, ready_within_minutes=0.02)) as h:
        done = await restored(h, orders, after_restore="ABNORMAL")
        assert done.state is S.VERIFY_FAILED
        assert done.error_msg == (
            "orders-restore-1 is still ABNORMAL, not RUNNING within 0.02 min of its restore job's end"
        )
        await h.wait_thread(done, "⚠️ Verification failed: orders-restore-1 is still ABNORMAL")
        assert await h.sim_calls("databases") == []  # never RUNNING: nothing more was asked


async def test_ddm_down_during_verification_is_said_in_the_thread_and_retried_within_the_bound(
    tmp_path: Path, orders: ReadOnlyDatabase
) -> None:
    async with running_bot(tmp_path, environments=environments(orders, ready_within_minutes=0.5)) as h:
        # DDM fails every instance-details call for a while (each read is tried 4 times by the client).
        await h.sim_fault(route="instance", kind="500", count=8)
        done = await restored(h, orders)
        assert done.state is S.VERIFIED, done.error_msg
        told = await h.wait_thread(done, "I can't verify")
        assert "DDM could not be asked about the target: DBS.200412" in told and "I keep trying until" in told
        await h.wait_thread(done, "✅ Verified")
        texts = h.thread_texts(done)
        assert sum("I can't verify" in t for t in texts) == 1  # said once, not at every try
        assert texts.index(told) < next(i for i, t in enumerate(texts) if t.startswith("✅ Verified"))


async def test_an_account_the_target_refuses_fails_at_the_bound_saying_so(
    tmp_path: Path, orders: ReadOnlyDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROD_VERIFY_PASSWORD", "not-the-password")
    async with running_bot(tmp_path, environments=environments(orders, ready_within_minutes=0.05)) as h:
        done = await restored(h, orders)
        assert done.state is S.VERIFY_FAILED
        why = "the SQL checks can't run: the target refused the verification account (MySQL error 1045)"
        assert done.error_msg == f"the verification could not finish: {why}"
        told = await h.wait_thread(done, "I can't verify")
        assert why in told
        await h.wait_thread(done, "⚠️ Verification failed: the verification could not finish")
        assert "not-the-password" not in json.dumps(h.thread_texts(done))
