"""Drills end to end: the bot, the fake Slack and the DDM simulator. A drill whose slot is due at start makes one
request to the first usable target of its pool, approved by the environments file, and its thread ends with the
drill report; once the pool is used up the channel is told so once, however many slots find it so."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from bot.restore.drills import Outcome
from bot.restore.request import RequestState as S
from bot.simulator.world import ORDERS_RESTORE_1_ID
from bot.workflow.drills import DrillNotStarted
from tests.support.environments import prod
from tests.support.harness import CREDENTIALS, BotHarness, running_bot, until
from tests.support.homes import second_replica

ENVIRONMENT = prod("COPS")
MINUTELY = """
[[environment.drill]]
name = "orders minutely"
schedule = "* * * * *"
source = "orders-prod"
targets = ["orders-restore-2", "orders-restore-1"]   # -2 is busy (a long restore): DDM lists it unusable
"""
YEARLY = """
[[environment.drill]]
name = "orders yearly"
schedule = "0 0 1 JAN *"   # not due while the test runs: started by a person
source = "orders-prod"
targets = ["orders-restore-3"]
approval = "stages"
"""


@pytest.fixture(autouse=True)
def ddm_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


async def test_a_drill_restores_to_its_pool_verifies_reports_and_tells_a_used_up_pool_once(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
    async with running_bot(tmp_path, environments=ENVIRONMENT + MINUTELY + YEARLY, database_url=database) as h:
        # The current minute's slot is due at start.
        done = await h.wait_request(lambda r: r.plan.drill and r.state in (S.VERIFIED, S.VERIFY_FAILED), timeout=20)
        assert done.state is S.VERIFIED, done.error_msg
        assert (done.plan.target.id, done.requester_id) == (ORDERS_RESTORE_1_ID, "drill:orders minutely")
        card = await h.wait_card(done, "· verified")
        assert "🧪 *Drill* orders minutely" in card and "Approved by the environments file" in card
        report = await h.wait_thread(done, "🧪 *Drill report*")
        assert "time to restore " in report and "restore-point lag " in report and "verification passed ✅" in report
        trail = await h.runtime.store.audit_trail(done.id)
        approved = next(r for r in trail if r.action == "approved")
        digest = hashlib.sha256((tmp_path / "ddm-restore.toml").read_bytes()).hexdigest()
        assert (approved.actor, approved.details["config_sha256"]) == ("drill:orders minutely", digest)
        assert len(await h.sim_calls("recovery")) == 1

        # orders-restore-1 now holds data: DDM lists it unusable, and the pool is used up. Two more slots (run
        # here rather than waited for) find it so: the channel is told once.
        runner = h.runtime.drills
        assert runner is not None
        found = runner.named("Orders Minutely")
        assert found is not None
        place, drill = found
        slot = done.created_at.replace(second=0, microsecond=0)
        for minutes in (5, 6):
            result = await runner.run(place, drill, slot=slot + timedelta(minutes=minutes))
            assert isinstance(result, DrillNotStarted) and result.outcome == Outcome.NO_TARGET
        [status] = [s for s in await runner.statuses() if s.drill.name == drill.name]
        assert status.targets_left == 0
        async with second_replica(h, database) as other:  # it never ran the drill: it reads the same from the store
            assert other.drills is not None
            assert [s.targets_left for s in await other.drills.statuses()] == [0, None]  # the yearly never ran

        def told() -> list[str]:
            texts = [str(c.args.get("text")) for c in h.fake.calls_of("chat.postMessage")]
            return [t for t in texts if "target pool is used up" in t]

        await until(lambda: told() or None, 5, lambda: "the channel was never told")
        assert len(told()) == 1, told()
        assert "orders-restore-2, orders-restore-1" in told()[0]
        assert len(await h.sim_calls("recovery")) == 1

        listed = await answer(h, "drills")
        assert "🧪 *orders minutely* — `* * * * *` · approval auto · next run " in listed
        assert "last: no_target" in listed and "targets left 0 of 2" in listed
        assert "🧪 *orders yearly* — `0 0 1 JAN *` · approval stages · next run " in listed and "never ran" in listed
        exposition = (await h.http.get(h.url.rsplit("/slack/events", 1)[0] + "/metrics")).text
        assert 'ddm_restore_bot_drill_targets_left{drill="orders minutely"} 0.0' in exposition
        assert 'ddm_restore_bot_drill_outcomes_total{drill="orders minutely",outcome="requested"} 1.0' in exposition
        assert 'ddm_restore_bot_drill_outcomes_total{drill="orders minutely",outcome="verified"} 1.0' in exposition
        assert 'ddm_restore_bot_drill_outcomes_total{drill="orders minutely",outcome="no_target"} 2.0' in exposition
        success = 'ddm_restore_bot_drill_last_success_timestamp_seconds{drill="orders minutely"} '
        assert done.finished_at is not None
        line = next(line for line in exposition.splitlines() if line.startswith(success))
        assert abs(float(line.removeprefix(success)) - done.finished_at.timestamp()) < 0.01, line
        assert 'ddm_restore_bot_drill_last_success_timestamp_seconds{drill="orders yearly"} 0.0' in exposition
        started = await answer(h, "drill run orders minutely")
        assert started.startswith("🧪 Drill *orders minutely* did not start: the target pool is used up")
        assert len(told()) == 1, told()  # the person is answered; the channel is not told again


async def test_a_person_starts_a_drill_with_the_environments_approval(tmp_path: Path) -> None:
    # Alone: a drill running meanwhile could take the free data nodes this one planned with.
    async with running_bot(tmp_path, environments=ENVIRONMENT + YEARLY) as h:
        started = await answer(h, "drill run  ORDERS  yearly")
        assert started.startswith("🧪 Drill *orders yearly* started: `R-") and "awaiting approval" in started
        request_id = started.split("`")[1]
        pending = await h.wait_request(lambda r: r.message_ts is not None, request_id=request_id, timeout=5)
        assert (pending.state, pending.requester_id, pending.plan.target.name) == (
            S.PENDING,
            "UALICE",
            "orders-restore-3",
        )
        card = await h.wait_card(pending, "🧪 *Drill* orders yearly")
        assert "<@UALICE>" in card and "Approved by the environments file" not in card
        await h.click("approve_request", pending, user="UBOB")
        done = await h.wait_request(lambda r: r.is_final, request_id=pending.id, timeout=20)
        assert done.state is S.VERIFIED, (done.state, done.error_msg)
        report = await h.wait_thread(done, "🧪 *Drill report*")
        assert "verification passed ✅" in report
        unknown = await answer(h, "drill run weekly")
        assert unknown == "No drill “weekly” in this channel's environment (its drills: “orders yearly”)."


async def answer(h: BotHarness, text: str) -> str:
    since = len(h.fake.calls)
    await h.command(text)
    call = await h.fake.wait_for("response_url:UALICE", since=since)
    return str(call.args["text"])
