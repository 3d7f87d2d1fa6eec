"""Never waiting in silence, end to end over two replicas: the approvers are reminded once per period (thread and
DMs), the stage is escalated once and a member of the escalation group may then approve it, and nothing more is
sent once it is approved.

The two replicas are two runtimes in this process over one database (PostgreSQL, as replicas run, and one SQLite
file), on one clock the test moves period by period, each with its own sweeper and announcer: what makes a reminder once-only is the database's conditional
update and the outbox's claims, not the process boundary (tests/e2e/test_replicas.py runs processes).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.playground.slack_api import FakeUser
from bot.restore.request import RequestState as S
from tests.support.harness import CREDENTIALS, GROUP, running_bot, until
from tests.support.homes import cycled, second_replica
from tests.support.reminders import CHANNEL, ENVIRONMENTS, ONCALL, ONCALL_GROUP, dms_to

PERIOD = timedelta(minutes=0.05)


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


async def test_reminded_once_per_period_escalated_once_approved_by_the_escalation_then_silent(
    tmp_path: Path, database_url: str
) -> None:
    async with running_bot(tmp_path, environments=ENVIRONMENTS, database_url=database_url) as h:
        h.fake.add_channel(CHANNEL, "prod")
        h.fake.add_user(FakeUser(ONCALL, "oncall"))
        h.fake.set_usergroup(ONCALL_GROUP, [ONCALL])
        async with second_replica(h, database_url) as b:  # on the same clock: the test moves both
            request = await h.request_restore(channel=CHANNEL)
            await h.wait_card(request, "waiting 0 min on DBA lead")
            # Before the escalation, the on-call is no approver of the stage.
            await h.click("approve_request", request, user=ONCALL)
            assert "can approve" in await h.wait_ephemeral(ONCALL, "can approve")
            h.clock.advance(PERIOD)
            await h.wait_thread(request, "⏰")
            h.clock.advance(PERIOD)  # the second reminder and the escalation are due
            escalation = await h.wait_thread(request, "🚨")
            assert f"<!subteam^{ONCALL_GROUP}>" in escalation and "may now approve it too" in escalation
            await h.wait_card(request, f"escalated to <!subteam^{ONCALL_GROUP}>")
            await h.click("approve_request", request, user=ONCALL)
            approved = await h.wait_request(lambda r: r.state is not S.PENDING, request_id=request.id)
            assert approved.approver_ids == (ONCALL,)
            # In real time: jumps of the clock while both replicas deliver would run out their claims mid-delivery.
            await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id, timeout=15)
            await h.quiet()
            # Periods pass and each replica sweeps again: no reminder comes after the approval.
            h.clock.advance(PERIOD * 3)
            for runtime in (h.runtime, b):
                await cycled(runtime, "sweeper")
            await h.quiet()
            trail = await h.runtime.store.audit_trail(request.id)
        reminders = [r.details["number"] for r in trail if r.action == "remind"]
        escalations = [r for r in trail if r.action == "escalate"]
        assert reminders == [1, 2]  # once per period (two passed before the approval), in order
        assert len(escalations) == 1
        after = [r.action for r in trail if r.at_ms > (approved.approved_at or approved.updated_at).timestamp() * 1000]
        assert "remind" not in after and "escalate" not in after
        thread = h.thread_texts(request)
        assert sum("⏰" in t for t in thread) == len(reminders)  # each once, though two replicas sweep
        assert sum("🚨" in t for t in thread) == 1
        assert f"<!subteam^{GROUP}>" in next(t for t in thread if "⏰" in t)
        assert sum("has waited" in t for t in dms_to(h, "UCAROL")) == len(reminders)  # an approver's DMs
        assert sum("escalated to" in t for t in dms_to(h, ONCALL)) == 1


async def test_the_requester_nudges_the_stage_s_approvers_once_per_cooldown(tmp_path: Path) -> None:
    quiet = ENVIRONMENTS.replace("remind_after_minutes = 0.05", "remind_after_minutes = 60").replace(
        "escalate_after_minutes = 0.1", "escalate_after_minutes = 120"
    )
    async with running_bot(tmp_path, environments=quiet) as h:
        h.fake.add_channel(CHANNEL, "prod")
        h.fake.set_usergroup(ONCALL_GROUP, [])
        request = await h.request_restore(channel=CHANNEL)
        card = h.fake.message(request.channel_id, request.message_ts or "")
        buttons = [e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert buttons == ["approve_request", "reject_request", "cancel_request", "nudge_request"]
        await h.click("nudge_request", request, user="UCAROL")
        assert "can nudge it" in await h.wait_ephemeral("UCAROL", "can nudge it")
        await h.click("nudge_request", request, user="UALICE")
        nudge = await h.wait_thread(request, "👋")
        assert f"<!subteam^{GROUP}>, please approve" in nudge and "<@UALICE> nudges" in nudge
        await until(lambda: dms_to(h, "UERIN") or None, timeout=5, describe=lambda: "no DM to an approver")
        await h.click("nudge_request", request, user="UALICE")
        assert "try again in" in await h.wait_ephemeral("UALICE", "try again in")
        assert sum("👋" in t for t in h.thread_texts(request)) == 1
