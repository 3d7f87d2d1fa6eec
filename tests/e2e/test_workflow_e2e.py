"""The restore workflow end to end: the bot in HTTP mode, the fake Slack Web API, the DDM simulator."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.playground import slack_payloads as sp
from bot.restore.request import RequestState
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID, ORDERS_RESTORE_2_ID
from tests.support.harness import CHANNEL, GROUP_MEMBERS, SECRET, BotHarness, running_bot

S = RequestState


def card_text(h: BotHarness, channel: str, ts: str) -> str:
    return json.dumps(h.fake.message(channel, ts)["blocks"], ensure_ascii=False)  # the card right now


async def test_happy_path_one_post_with_the_approved_body(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        assert request.state is S.PENDING and request.requester_id == "UALICE"
        assert request.plan.source.id == ORDERS_PROD_ID and request.plan.target.id == ORDERS_RESTORE_1_ID
        assert len(request.plan.mappings) == 2 and request.plan.reason == "INC-4521"
        card = card_text(h, CHANNEL, request.message_ts or "")
        assert "awaiting approval (0/1)" in card and "will be overwritten" in card
        assert str(request.plan.restore_time_ms) in card and "approve_request" in card

        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "<@UBOB> approved (1/1).")
        submitted = await h.wait_thread(request, "Restore job `")
        running = await h.wait_request(lambda r: r.job_id is not None, request_id=request.id)
        assert f"Restore job `{running.job_id}` submitted to DDM (cn-north-4)." == submitted

        final = await h.wait_thread(request, "Restore completed")
        assert "<@UALICE>" in final and "<@UBOB>" in final
        done = await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id)
        await h.wait_thread(request, "✅ Verified: orders-restore-1 is RUNNING")
        card = await h.wait_card(request, "· verified")
        assert "approve_request" not in card

        posts = await h.sim_calls("recovery")
        assert len(posts) == 1
        assert posts[0]["body"] == done.plan.restore_body()
        assert posts[0]["path"] == f"/v3/{done.plan.project_id}/instances/{ORDERS_PROD_ID}/backups/recovery"
        actions = [a.action for a in await h.runtime.store.audit_trail(request.id)]
        assert (
            actions[:3] == ["create", "approve", "approved"]
            and "job_submitted" in actions
            and actions[-2:] == ["job_completed", "verified"]
        )


# ---- who may approve ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("UALICE", "You can't approve your own request."),
        ("UDAN", "Only <@UALICE>, <@UBOB>, <@UGUEST> or members of <!subteam^SLEADS> can approve."),
        ("UGUEST", "Guests can't approve restores."),
    ],
    ids=["self", "non-approver", "guest"],
)
async def test_refused_approvals_change_nothing(tmp_path: Path, user: str, message: str) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        before = h.fake.message(CHANNEL, request.message_ts or "")["blocks"]
        await h.click("approve_request", request, user=user)
        assert await h.wait_ephemeral(user, message) == message
        await h.quiet()
        after = await h.runtime.store.get(request.id)
        assert after is not None and after.state is S.PENDING and after.approvals == ()
        assert h.fake.message(CHANNEL, request.message_ts or "")["blocks"] == before
        assert h.thread_texts(request) == []
        assert await h.sim_calls("recovery") == []


async def test_two_of_many_approvers(tmp_path: Path) -> None:
    async with running_bot(tmp_path, required_approvals=2) as h:
        request = await h.request_restore()
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "<@UBOB> approved (1/2).")
        await h.wait_request(lambda r: len(r.approvals) == 1, request_id=request.id)
        await h.wait_card(request, "awaiting approval (1/2)")  # the card follows the thread message
        await h.click("approve_request", request, user="UBOB")
        await h.wait_ephemeral("UBOB", "You already approved")
        assert await h.sim_calls("recovery") == []
        await h.click("approve_request", request, user="UCAROL")  # a member of the approvers' group
        await h.wait_thread(request, "<@UCAROL> approved (2/2).")
        await h.wait_thread(request, "Restore completed")
        assert len(await h.sim_calls("recovery")) == 1


async def test_twenty_concurrent_approve_clicks_post_once(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        approvers = GROUP_MEMBERS[2:22]
        await asyncio.gather(*[h.click("approve_request", request, user=u) for u in approvers])
        await h.wait_thread(request, "✅ Verified")
        await h.quiet()
        assert len(await h.sim_calls("recovery")) == 1
        final = await h.runtime.store.get(request.id)
        assert final is not None and final.state is S.VERIFIED and len(final.approvals) >= 1
        thread = h.thread_texts(request)
        assert sum("submitted to DDM" in t for t in thread) == 1
        assert sum("Restore completed" in t for t in thread) == 1
        # everyone whose click did not count was told why
        told = [u for u in approvers if h.ephemerals_for(u)]
        assert len(told) + len(final.approvals) == len(approvers)


# ---- reject, cancel, expire -----------------------------------------------------------------------------------


async def test_reject_with_a_reason(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        since = len(h.fake.calls)
        await h.click("reject_request", request, user="UBOB")
        opened = await h.fake.wait_for("views.open", since=since)
        view_id = str(opened.args["view"].get("id") or sorted(h.fake.views)[-1])
        assert h.fake.views[view_id]["callback_id"] == "reject_reason"
        empty = await h.submit_view(view_id, {"reason": {"reason": sp.plain_text_input("  ")}}, user="UBOB")
        assert empty["response_action"] == "errors" and "reason" in empty["errors"]
        await h.submit_view(view_id, {"reason": {"reason": sp.plain_text_input("wrong target")}}, user="UBOB")
        rejected = await h.wait_request(lambda r: r.state is S.REJECTED, request_id=request.id)
        assert rejected.decided_by == "UBOB" and rejected.decision_note == "wrong target"
        card = await h.wait_card(request, 'rejected by <@UBOB>: \\"wrong target\\"')
        assert "approve_request" not in card
        await h.wait_thread(request, "rejected R-")
        await h.click("approve_request", request, user="UCAROL")
        await h.wait_ephemeral("UCAROL", "is already rejected")
        assert await h.sim_calls("recovery") == []


async def test_requester_cannot_reject_and_only_requester_cancels(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        await h.click("reject_request", request, user="UALICE")
        await h.wait_ephemeral("UALICE", "use Cancel instead of Reject")
        await h.click("cancel_request", request, user="UBOB")
        await h.wait_ephemeral("UBOB", "Only <@UALICE>, who made")
        await h.click("cancel_request", request, user="UALICE")
        cancelled = await h.wait_request(lambda r: r.state is S.CANCELLED, request_id=request.id)
        assert cancelled.decided_by == "UALICE"
        await h.wait_card(request, "cancelled by <@UALICE>")
        await h.wait_thread(request, "cancelled")


async def test_expiry_updates_the_card_and_refuses_late_clicks(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.clock.advance(timedelta(minutes=61))  # past the approval TTL (60 min)
        expired = await h.wait_request(lambda r: r.state is S.EXPIRED, request_id=request.id)
        assert expired.state is S.EXPIRED
        await h.wait_thread(request, "expired without the required approvals")
        card = card_text(h, CHANNEL, request.message_ts or "")
        assert "expired" in card and "approve_request" not in card
        await h.click("approve_request", request, user="UBOB")
        await h.wait_ephemeral("UBOB", "already expired")
        assert await h.sim_calls("recovery") == []


# ---- the form refuses what can't work ------------------------------------------------------------------------


async def test_busy_target_is_refused_naming_the_holder(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        first = await h.request_restore()
        view_id = await h.open_form()
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        step2 = await h.wait_step2(pushed)
        answer = await h.submit_view(pushed, h.suggested_state(step2))
        assert answer["response_action"] == "errors"
        assert any(f"busy with {first.id} (pending)" in e for e in answer["errors"].values())
        assert len(await h.runtime.store.recent(10)) == 1


async def test_step1_errors_are_on_the_fields(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        await h.choose_source(view_id)
        hint = json.dumps(h.fake.views[view_id]["blocks"], ensure_ascii=False)
        assert "Restorable " in hint and "your zone (Asia/Shanghai)" in hint and "orders-restore-2" in hint
        old = await h.submit_step1(view_id, exact="2020-01-01T00:00:00Z")
        assert "outside the restorable window" in old["errors"]["restore_time_exact"]
        vague = await h.submit_step1(view_id, exact="2026-11-27 09:12")
        assert "has no time zone" in vague["errors"]["restore_time_exact"]
        same = await h.submit_step1(view_id, target=ORDERS_PROD_ID)
        assert same["errors"]["target_instance"] == "The target must be another DDM instance than the source."
        busy = await h.submit_step1(view_id, target=ORDERS_RESTORE_2_ID)
        assert busy["errors"]["target_instance"].startswith("orders-restore-2 can't be used:")
        nothing = await h.submit_step1(view_id, exact=None, picker=None)
        assert "Pick a restore point" in nothing["errors"]["restore_time"]
        assert await h.runtime.store.recent(10) == []


async def test_options_are_live_and_searchable(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        before = await h.options(view_id, "target_instance")
        assert [o["text"]["text"] for o in before] == ["Choose a source first"]
        sources = await h.options(view_id, "source_instance", "orders")
        assert {o["text"]["text"].split(" (")[0] for o in sources} >= {"orders-prod", "orders-restore-1"}
        assert all("orders" in o["text"]["text"] for o in sources)
        await h.choose_source(view_id)
        targets = await h.options(view_id, "target_instance")
        values = [o["value"] for o in targets]
        # The demo world's free targets only (orders-restore-1, -3, -4): busy and unsuitable ones are not offered.
        assert values[0] == ORDERS_RESTORE_1_ID and len(values) == len(set(values)) == 3
        assert ORDERS_RESTORE_2_ID not in values and ORDERS_PROD_ID not in values


# ---- DDM failures ---------------------------------------------------------------------------------------------


async def test_ddm_500_on_submit_is_unknown_and_never_resent(tmp_path: Path) -> None:
    # A 5xx does not prove that nothing ran: the bot looks for the job instead of declaring failure at once.
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        await h.sim_fault(route="recovery", kind="500")
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "may or may not be running")
        assert (await h.runtime.store.active_for_target(ORDERS_RESTORE_1_ID)) is not None  # target stays held
        # The job is looked for until RECONCILE_DEADLINE_SECONDS (15 min) have passed on the bot's clock.
        failed = await h.fast_forward(h.wait_request(lambda r: r.state is S.FAILED, request_id=request.id), step=60)
        assert failed.error_code == "NO_JOB" and "DBS.200412" in (failed.error_msg or "")
        text = await h.wait_thread(request, "No restore job for this target appeared")
        assert "DBS.200412" in text
        assert len(await h.sim_calls("recovery")) == 1
        await h.wait_card(request, "failed NO_JOB")
        unknown = [a for a in await h.runtime.store.audit_trail(request.id) if a.action == "outcome_unknown"]
        assert len(unknown) == 1 and unknown[0].error_code == "DBS.200412"


async def test_timeout_after_sending_becomes_unknown_then_reconciled(tmp_path: Path) -> None:
    async with running_bot(tmp_path, huaweicloud_read_timeout_seconds=0.5) as h:
        request = await h.request_restore()
        await h.sim_fault(route="recovery", kind="timeout", delay_seconds=3, execute=True)
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "may or may not be running")
        reconciled = await h.wait_thread(request, "Found it: restore job")
        job_id = reconciled.split("`")[1]
        await h.wait_thread(request, "✅ Verified")
        done = await h.runtime.store.get(request.id)
        assert done is not None and done.state is S.VERIFIED and done.job_id == job_id
        assert len(await h.sim_calls("recovery")) == 1  # never re-sent
        actions = [a.action for a in await h.runtime.store.audit_trail(request.id)]
        assert "outcome_unknown" in actions and "reconciled" in actions


async def test_plan_no_longer_possible_at_approval_is_not_sent(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        # Someone else restores onto the same target meanwhile (outside the bot): the target becomes busy.
        body = request.plan.restore_body()
        from bot.huawei.auth import AkSkAuth
        from bot.huawei.ddm import DdmClient
        from bot.huawei.models import RecoveryRequest
        from tests.support.harness import CREDENTIALS, PROJECT

        async with DdmClient(
            endpoint=h.sim.base_url, project_id=PROJECT, auth=AkSkAuth(ak=CREDENTIALS.ak or "", sk=CREDENTIALS.sk or "")
        ) as other:
            await other.restore(ORDERS_PROD_ID, RecoveryRequest.model_validate(body))
        await h.click("approve_request", request, user="UBOB")
        failed = await h.wait_request(lambda r: r.state is S.FAILED, request_id=request.id)
        assert failed.error_code == "PLAN_STALE"
        await h.wait_thread(request, "Not submitted:")
        assert len(await h.sim_calls("recovery")) == 1  # only the other one


# ---- Slack security and commands ------------------------------------------------------------------------------


async def test_forged_signature_is_refused_and_nothing_recorded(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        body, headers = sp.slash_command(
            SECRET, user_id="UALICE", channel_id=CHANNEL, response_url=h.fake.response_url("x")
        )
        answer = await h.http.post(h.url, content=body, headers=sp.forged(headers))
        assert answer.status_code == 401
        body, headers = sp.block_actions(
            SECRET,
            user_id="UBOB",
            action_id="approve_request",
            value="R-000000",
            channel_id=CHANNEL,
            message_ts="1.1",
        )
        answer = await h.http.post(h.url, content=body, headers=sp.forged_signature(body))
        assert answer.status_code == 401
        await h.quiet()
        assert [c.method for c in h.fake.calls if c.method != "auth.test"] == []
        assert await h.runtime.store.recent(5) == []
        assert await h.runtime.store.audit_trail() == []


async def test_help_list_status_and_unknown_text(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        await h.command("help")
        help_call = await h.fake.wait_for("response_url:UALICE")
        assert "/ddm-restore list" in help_call.args["text"] and help_call.args["response_type"] == "ephemeral"
        since = len(h.fake.calls)
        await h.command("frobnicate")
        unknown = await h.fake.wait_for("response_url:UALICE", since=since)
        assert "I don't know “frobnicate”" in unknown.args["text"]
        request = await h.request_restore()
        since = len(h.fake.calls)
        await h.command("list")
        listed = await h.fake.wait_for("response_url:UALICE", since=since)
        assert request.id in listed.args["text"]
        since = len(h.fake.calls)
        await h.command(f"status {request.id.lower()}")
        status = await h.fake.wait_for("response_url:UALICE", since=since)
        assert request.fingerprint in status.args["text"]


async def test_not_in_channel_says_how_to_invite(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        await h.command("", channel="COUTSIDE")
        told = await h.fake.wait_for("response_url:UALICE")
        assert "/invite @ddm-restore" in told.args["text"]
        view_update = await h.fake.wait_for("views.update")
        assert "/invite" in json.dumps(view_update.args["view"])


async def test_prefilled_form_from_command_text(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        since = len(h.fake.calls)
        await h.command(
            "orders-prod at 2026-11-27T09:12:32.500+08:00 to orders-restore-1 map orders-rds-0=restore-rds-1"
        )
        opened = await h.fake.wait_for("views.open", since=since)
        view = opened.args["view"]
        blocks = {b.get("block_id"): b for b in view["blocks"]}
        assert blocks["source_instance"]["element"]["initial_option"]["value"] == "orders-prod"
        assert blocks["restore_time_exact"]["element"]["initial_value"] == "2026-11-27T09:12:32.500+08:00"
        # the hint is filled in right after, from the live API; the form keeps all the command asked for
        updated = await h.fake.wait_for("views.update", since=since)
        blocks = {b.get("block_id"): b for b in updated.args["view"]["blocks"]}
        assert blocks["source_instance"]["element"]["initial_option"]["value"] == ORDERS_PROD_ID
        assert blocks["restore_time_exact"]["element"]["initial_value"] == "2026-11-27T09:12:32.500+08:00"
        target = blocks["target_instance"]["element"]["initial_option"]
        assert target["value"] == ORDERS_RESTORE_1_ID and target["text"]["text"] == "orders-restore-1 (2f0324a9…in09)"
        assert json.loads(updated.args["view"]["private_metadata"])["m"] == {"orders-rds-0": "restore-rds-1"}
        assert "Restorable" in blocks["source_hint"]["elements"][0]["text"]


async def test_ddm_400_on_submit_names_the_error_and_a_next_step(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        await h.sim_fault(
            route="recovery", kind="400", error_code="DBS.300372", error_msg="Invalid destination DDM instance."
        )
        await h.click("approve_request", request, user="UBOB")
        failed = await h.wait_request(lambda r: r.state is S.FAILED, request_id=request.id)
        assert (failed.error_code, failed.error_msg) == ("DBS.300372", "Invalid destination DDM instance.")
        text = await h.wait_thread(request, "DDM refused the restore")
        assert "`DBS.300372` Invalid destination DDM instance." in text and "Pick another target" in text
        assert len(await h.sim_calls("recovery")) == 1
        # the target is free again for a corrected request
        assert await h.runtime.store.active_for_target(ORDERS_RESTORE_1_ID) is None


async def test_slack_failing_during_approval_does_not_stall_the_restore(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.fake.fail_next("chat.postMessage", "internal_error", count=2)  # "approved (1/1)" and "checking…"
        h.fake.fail_next("chat.update", "internal_error")
        await h.click("approve_request", request, user="UBOB")
        await h.wait_request(lambda r: r.job_id is not None, request_id=request.id)
        await h.fast_forward(h.wait_thread(request, "Restore completed"))  # the announcer's backoffs pass
        assert len(await h.sim_calls("recovery")) == 1


async def test_card_that_cannot_be_posted_cancels_the_request_and_says_why(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        h.fake.fail_next("chat.postMessage", "not_in_channel")
        view_id = await h.open_form()
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        step2 = await h.wait_step2(pushed)
        await h.submit_view(pushed, h.suggested_state(step2))
        told = await h.wait_ephemeral("UALICE", "was not created")
        assert "/invite @ddm-restore" in told
        cancelled = await h.wait_request(lambda r: r.state is S.CANCELLED)
        assert cancelled.message_ts is None
        assert await h.runtime.store.active_for_target(ORDERS_RESTORE_1_ID) is None


async def test_final_message_lost_to_a_slack_error_is_posted_later(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.fake.fail_next("chat.postMessage", "internal_error")  # the "rejected" thread message
        since = len(h.fake.calls)
        await h.click("reject_request", request, user="UBOB")
        opened = await h.fake.wait_for("views.open", since=since)
        view_id = str(opened.args["view"].get("id") or sorted(h.fake.views)[-1])
        await h.submit_view(view_id, {"reason": {"reason": sp.plain_text_input("not now")}}, user="UBOB")
        text = await h.fast_forward(h.wait_thread(request, "rejected R-"))  # retried after a backoff
        assert "not now" in text
        await h.quiet()
        assert sum("rejected R-" in t for t in h.thread_texts(request)) == 1


async def test_people_text_cannot_forge_card_lines_or_mentions(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        step2 = await h.wait_step2(pushed)
        sneaky = "INC-1\n*Target* orders-staging <!channel> <@UBOB> ok"
        await h.submit_view(pushed, h.suggested_state(step2, reason=sneaky))
        request = await h.wait_request(lambda r: r.message_ts is not None)
        card = card_text(h, CHANNEL, request.message_ts or "")
        assert "<!channel>" not in card and "&lt;!channel&gt;" in card
        assert "INC-1 *Target* orders-staging" in card  # one line, no forged field


async def test_ambiguous_target_name_is_refused(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        world = h.sim.state.world
        twin = next(i for i in world.ddm_instances if i.id == ORDERS_RESTORE_2_ID)
        twin.name = "orders-restore-1"  # two instances now share a name
        view_id = await h.open_form()
        await h.choose_source(view_id)
        answer = await h.submit_step1(view_id, target="orders-restore-1")
        assert "Several instances are named “orders-restore-1”" in answer["errors"]["target_instance"]


async def test_a_job_that_cannot_be_read_is_reported_once_and_still_followed(tmp_path: Path) -> None:
    async with running_bot(tmp_path, job_seconds=600) as h:
        request = await h.request_restore()
        # The follower reads every running job through the job list: it fails (with its retries) for a while.
        await h.sim_fault(route="jobs", kind="html", count=30)
        await h.click("approve_request", request, user="UBOB")
        await h.wait_request(lambda r: r.state is S.RUNNING, request_id=request.id)
        # Its backoffs and retries pass on the bot's clock: the test moves it on.
        trouble = await h.fast_forward(h.wait_thread(request, "I can't read job"))
        assert "stays reserved" in trouble
        await h.http.delete(f"{h.sim.base_url}/_sim/faults")
        await h.fast_forward(h.wait_thread(request, "Restore completed"))
        assert sum("I can't read job" in t for t in h.thread_texts(request)) == 1


async def test_expired_trigger_is_explained_not_swallowed(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        h.fake.fail_next("views.open", "expired_trigger_id")
        await h.command("")
        told = await h.fake.wait_for("response_url:UALICE")
        assert "expired_trigger_id" in told.args["text"] and "run `/ddm-restore` again" in told.args["text"]


async def test_ddm_failing_while_the_form_loads_is_said_in_the_form(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        await h.sim_fault(route="list_instances", kind="html", count=10)
        options = await h.fast_forward(h.options(view_id, "source_instance"))  # through the client's retries
        assert len(options) == 1 and options[0]["text"]["text"].startswith("⚠️ DDM error: HTTP.502")
        assert options[0]["value"] == "__choose_source_first__"  # not a choice that can be submitted
        await h.http.delete(f"{h.sim.base_url}/_sim/faults")
        await h.sim_fault(route="restorable_time_interval", kind="500", count=10)
        answer = await h.fast_forward(h.submit_step1(view_id))
        assert answer["errors"]["source_instance"].startswith("DDM could not be asked: DBS.200412")
        assert await h.runtime.store.recent(5) == []


async def test_names_on_the_card_are_ddms_not_the_forms(tmp_path: Path) -> None:
    """Step 2's private_metadata comes back from the client: a forged one with false names (and a target data
    node label made up in the state) still gives a card naming what DDM names."""
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        await h.choose_source(view_id)
        response = await h.submit_step1(view_id)
        assert response.get("response_action") == "push", response
        pushed = h.top_view[view_id]
        assert pushed
        step2 = await h.wait_step2(pushed)
        meta = json.loads(step2["private_metadata"])
        meta["s"][1] = "<!channel> trusted-prod"
        meta["t"][1] = "definitely-not-prod"
        meta["n"] = {node: "fake-node" for node in meta["n"]}
        h.fake.views[pushed]["private_metadata"] = json.dumps(meta)
        state = h.suggested_state(step2)
        for value in state.values():
            chosen = (value.get("dn_target") or {}).get("selected_option")
            if chosen:
                chosen["text"]["text"] = "made-up-target (xxxx…xxxx)"
        assert await h.submit_view(pushed, state) == {"response_action": "clear"}
        request = await h.wait_request(lambda r: r.message_ts is not None)
        assert request.plan.source.name == "orders-prod" and request.plan.target.name == "orders-restore-1"
        assert all(m.source.name != "fake-node" and m.target.name != "made-up-target" for m in request.plan.mappings)
        card = card_text(h, CHANNEL, request.message_ts or "")
        assert "orders-prod" in card and "orders-restore-1" in card
        assert "trusted-prod" not in card and "definitely-not-prod" not in card and "made-up" not in card


async def test_a_rate_limited_slack_is_waited_out_and_each_message_posted_once(tmp_path: Path) -> None:
    """slack_sdk retries a 429 three times itself; when Slack still says `ratelimited`, the announcer gives the
    notices back until `Retry-After` has passed, then posts each one once and in order."""
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        since = len(h.fake.calls)
        h.fake.fail_next("chat.postMessage", "ratelimited", count=4, retry_after=1)
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "✅ Verified", timeout=20)
        posts = [c for c in h.fake.calls[since:] if c.method == "chat.postMessage"]
        assert posts[4].at - posts[3].at >= 1.0  # the announcer's own wait, after slack_sdk's three retries
        thread = h.thread_texts(request)
        assert sum("approved (1/1)" in t for t in thread) == 1
        assert "approved (1/1)" in thread[0] and "Restore completed" in thread[-2] and "Verified" in thread[-1]


async def test_a_deleted_card_does_not_stop_the_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.fake.fail_next("chat.update", "message_not_found", count=10)
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "Restore completed", timeout=20)
        assert sum("approved (1/1)" in t for t in h.thread_texts(request)) == 1
