"""Environments end to end: two channels, two projects with their own credentials, one simulator serving both."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.playground import slack_payloads as sp
from bot.restore.request import RequestState as S
from bot.simulator.world import ORDERS_PROD_ID
from tests.support.environments import CHECKED, ENVIRONMENTS, REVIEW_WITHIN, STAGED, STAGING, STAGING_PROJECT, URGENT
from tests.support.harness import CREDENTIALS, PROJECT, SECRET, running_bot, until


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")
    monkeypatch.setenv("ST_USER", STAGING.username or "")
    monkeypatch.setenv("ST_PASSWORD", STAGING.password or "")
    monkeypatch.setenv("ST_DOMAIN", STAGING.domain or "")


async def test_each_channel_restores_in_its_own_project_with_its_own_credentials(tmp_path: Path) -> None:
    async with running_bot(tmp_path, more_projects=(STAGING,), environments=ENVIRONMENTS) as h:
        for channel, name in (("CPROD", "prod"), ("CSTAGE", "staging"), ("CNONE", "none")):
            h.fake.add_channel(channel, name)

        staged = await h.request_restore(channel="CSTAGE")
        assert (staged.plan.environment, staged.plan.project_id, staged.plan.region) == (
            "staging",
            STAGING_PROJECT,
            "ap-southeast-1",
        )
        await h.wait_card(staged, "staging (ap-southeast-1)")
        # Prod's approver is no approver in staging.
        await h.click("approve_request", staged, user="UBOB")
        assert "Only <@UDAN> can approve." in await h.wait_ephemeral("UBOB", "can approve")
        await h.click("approve_request", staged, user="UDAN")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=staged.id)
        await h.wait_thread(staged, "submitted to DDM (ap-southeast-1).")

        prod = await h.request_restore(channel="CPROD")
        assert (prod.plan.environment, prod.plan.project_id) == ("prod", PROJECT)
        assert prod.fingerprint != staged.fingerprint
        await h.click("approve_request", prod, user="UBOB")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=prod.id)

        posts = await h.sim_calls("recovery")
        assert [(p["path"], p["auth"]) for p in posts] == [
            (f"/v3/{STAGING_PROJECT}/instances/{ORDERS_PROD_ID}/backups/recovery", "token"),
            (f"/v3/{PROJECT}/instances/{ORDERS_PROD_ID}/backups/recovery", "aksk"),
        ]
        # Each project's world saw its own restore only.
        staged_job = (await h.runtime.store.get(staged.id)).job_id  # type: ignore[union-attr]
        prod_job = (await h.runtime.store.get(prod.id)).job_id  # type: ignore[union-attr]
        staging_jobs = {j.id for j in h.sim.state.projects[STAGING_PROJECT].world.jobs}
        prod_jobs = {j.id for j in h.sim.state.world.jobs}
        assert staged_job in staging_jobs and staged_job not in prod_jobs
        assert prod_job in prod_jobs and prod_job not in staging_jobs

        # list and status stay in the channel's environment; policy tells its rules.
        since = len(h.fake.calls)
        await h.command("list", channel="CSTAGE")
        listed = await h.fake.wait_for("response_url:UALICE", since=since)
        assert staged.id in listed.args["text"] and prod.id not in listed.args["text"]
        since = len(h.fake.calls)
        await h.command(f"status {prod.id}", channel="CSTAGE")
        status = await h.fake.wait_for("response_url:UALICE", since=since)
        assert "I know no request" in status.args["text"]
        since = len(h.fake.calls)
        await h.command("policy", channel="CPROD")
        policy = await h.fake.wait_for("response_url:UALICE", since=since)
        assert "*Environment prod*" in policy.args["text"] and "1 of <@UBOB>" in policy.args["text"]
        # stats sums up every environment's restores, wherever it is asked: one line each, by its label.
        since = len(h.fake.calls)
        await h.command("stats", channel="CSTAGE")
        stats = str((await h.fake.wait_for("response_url:UALICE", since=since)).args["text"]).splitlines()
        assert [line.split(" · ")[0] for line in stats[1:]] == [
            "• *prod (cn-north-4)*: 1 completed, 0 failed",
            "• *staging (ap-southeast-1)*: 1 completed, 0 failed",
        ]

        # A channel in no environment is told which are set up.
        since = len(h.fake.calls)
        await h.command("", channel="CNONE")
        told = await h.fake.wait_for("response_url:UALICE", since=since)
        assert told.args["text"] == (
            "This channel is not set up for restores. Restores can be requested in <#CPROD>, <#CSTAGE>."
        )


async def test_stages_in_order_and_one_post_after_the_last(tmp_path: Path) -> None:
    async with running_bot(tmp_path, environments=STAGED) as h:
        h.fake.add_channel("CPROD", "prod")
        request = await h.request_restore(channel="CPROD")
        card = await h.wait_card(request, "stage 1 of 2")
        assert "prod (cn-north-4)" in card and "⏳ DBA lead" in card and "⏳ Service owner" in card

        # The service owner clicks before the DBA lead: told whose turn it is, nothing counted.
        await h.click("approve_request", request, user="UDAN")
        early = await h.wait_ephemeral("UDAN", "comes first")
        assert early == "Stage 1 (DBA lead) comes first; you'll be mentioned when it's your turn."

        await h.click("approve_request", request, user="UCAROL")
        said = await h.wait_thread(request, "approved stage 1")
        assert said == "<@UCAROL> approved stage 1 (DBA lead). Next: <@UDAN> (Service owner)."
        card = await h.wait_card(request, "stage 2 of 2")
        assert "✅ DBA lead — <@UCAROL>" in card and "waiting for <@UDAN> (0/1)" in card
        assert await h.sim_calls("recovery") == []
        # Another lead: stage 1 is complete; it counts nowhere.
        await h.click("approve_request", request, user="UERIN")
        await h.wait_ephemeral("UERIN", "already complete")

        await h.click("approve_request", request, user="UDAN")
        await h.wait_thread(request, "<@UDAN> approved stage 2 (Service owner).")
        done = await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id)
        assert [(a.user_id, a.stage) for a in done.approvals] == [("UCAROL", 1), ("UDAN", 2)]
        assert len(await h.sim_calls("recovery")) == 1
        trail = await h.runtime.store.audit_trail(request.id)
        assert [(a.action, a.details.get("stage")) for a in trail if a.action == "approve"] == [
            ("approve", 1),
            ("approve", 2),
        ]


async def test_the_urgent_path_with_its_review_and_its_reminder(tmp_path: Path) -> None:
    async with running_bot(tmp_path, environments=URGENT) as h:
        h.fake.add_channel("CPROD", "prod")
        # Urgent needs the incident reference.
        view_id = await h.open_form(channel="CPROD")
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        step2 = await h.wait_step2(pushed)
        assert {"urgent", "incident"} <= {b.get("block_id") for b in step2["blocks"]}
        state = h.suggested_state(step2) | {"urgent": {"urgent": CHECKED}}
        response = await h.submit_view(pushed, state)
        assert response["errors"] == {"incident": "An urgent request needs the incident reference (e.g. INC-9001)."}

        incident = {
            "urgent": {"urgent": CHECKED},
            "incident": {"incident": {"type": "plain_text_input", "value": "INC-9001"}},
        }
        request = await h.request_restore(channel="CPROD", extra_state=incident)
        assert request.plan.urgent_incident == "INC-9001" and request.required_approvals == 1
        card = await h.wait_card(request, "URGENT")
        assert "🚨 *URGENT* · incident INC-9001" in card
        # Only the urgent approvers decide it: the stages' people are not asked.
        await h.click("approve_request", request, user="UCAROL")
        await h.wait_ephemeral("UCAROL", "Only <@UBOB> can approve.")
        await h.click("approve_request", request, user="UBOB")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id)
        assert len(await h.sim_calls("recovery")) == 1

        due = await h.wait_thread(request, "Follow-up review due by")
        assert "<@UCAROL> <@UERIN>" in due
        assert request.message_ts
        review_message = next(
            m for m in h.fake.thread("CPROD", request.message_ts) if "Follow-up review" in str(m.get("text"))
        )
        assert "review_request" in str(review_message.get("blocks"))
        # Overdue: a reminder in the thread, and a DM to each reviewer.
        h.clock.advance(REVIEW_WITHIN + timedelta(minutes=1))
        await h.wait_thread(request, "is overdue")
        await until(
            lambda: {c.args.get("channel") for c in h.fake.calls_of("chat.postMessage")} >= {"UCAROL", "UERIN"} or None,
            5,
            lambda: "no DM to the reviewers",
        )

        async def click_reviewed(user: str) -> None:
            answer = await h.send(
                sp.block_actions(
                    SECRET,
                    user_id=user,
                    action_id="review_request",
                    block_id="review_actions",
                    value=request.id,
                    channel_id="CPROD",
                    message_ts=str(review_message["ts"]),
                    message=review_message,
                    trigger_id=sp.new_trigger_id(),
                    response_url=h.fake.response_url(f"click-{user}"),
                )
            )
            assert answer.status_code == 200, answer.text

        await click_reviewed("UDAN")
        await h.wait_ephemeral("UDAN", "Only <@UCAROL> or <@UERIN> can review it.")
        await click_reviewed("UCAROL")
        await h.wait_thread(request, "<@UCAROL> reviewed this urgent restore.")
        await h.wait_card(request, "Reviewed by <@UCAROL>")
        actions = [a.action for a in await h.runtime.store.audit_trail(request.id)]
        assert [a for a in actions if a.startswith("review")] == ["review_due", "review_reminder", "reviewed"]
        reviewed = [a for a in await h.runtime.store.audit_trail(request.id) if a.action == "reviewed"]
        assert len(reviewed) == 1 and reviewed[0].actor == "UCAROL"
