"""Connections that drop after Slack has acted: the answer is lost, the post is there. Nothing is posted twice.

slack_sdk's own retry resends whatever call lost its connection; the bot's (bot.slack.retries) resends only
what is harmless to repeat, and the announcer looks for a post by its metadata before it tries again. Each kind
of post is dropped once here, with the real bot against FakeSlack (`drop_next`); what the client alone resends:
tests/unit/test_slack_retries.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.playground import slack_payloads as sp
from bot.restore.request import RequestState
from tests.support.environments import CHECKED, REVIEW_WITHIN, URGENT
from tests.support.harness import CHANNEL, CREDENTIALS, SECRET, BotHarness, running_bot, until

S = RequestState


def is_card(args: dict[str, Any]) -> bool:
    return bool(args["metadata"]["event_type"] == "ddm_restore_card")


# ---- the bot, end to end: one drop per kind of post -----------------------------------------------------------


def cards_of(h: BotHarness, request_id: str) -> list[dict[str, Any]]:
    return [
        m
        for m in h.fake.messages[CHANNEL]
        if (m.get("metadata") or {}).get("event_payload", {}).get("request_id") == request_id
        and m["metadata"]["event_type"] == "ddm_restore_card"
    ]


def dms_to(h: BotHarness, user: str) -> list[str]:
    return [str(m["text"]) for m in h.fake.messages.get(h.fake.dm_channel(user), [])]


@pytest.mark.parametrize("after_processing", [True, False], ids=["posted", "never-arrived"])
async def test_the_card(tmp_path: Path, after_processing: bool) -> None:
    """Posted and its answer lost: found by its metadata, not posted again (the approval then finds one card with
    live buttons). Lost before Slack saw it: posted by the next try, once."""
    async with running_bot(tmp_path) as h:
        h.fake.drop_next("chat.postMessage", when=is_card, after_processing=after_processing)
        request = await h.fast_forward(h.request_restore())  # the card's next try comes after a backoff
        assert [c["ts"] for c in cards_of(h, request.id)] == [request.message_ts]
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "Restore completed")
        await h.wait_card(request, "completed")
        await h.quiet()
        assert len(cards_of(h, request.id)) == 1
        assert sum("approved (1/1)" in t for t in h.thread_texts(request)) == 1


async def test_a_card_found_again_is_redrawn_with_what_happened_meanwhile(tmp_path: Path) -> None:
    """The card's answer is lost and, before the next try finds the card, someone approves on it: the found card
    is redrawn (it shows the state of the first try, not the request's)."""
    async with running_bot(tmp_path, required_approvals=2) as h:
        h.fake.drop_next("chat.postMessage", when=is_card)
        h.fake.fail_next("conversations.history", "internal_error", count=2)  # the next two tries' look-ups fail
        view_id = await h.open_form()
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        await h.submit_view(pushed, h.suggested_state(await h.wait_step2(pushed)))
        await h.fake.wait_for("conversations.history")
        (card,) = h.fake.messages[CHANNEL]
        request_id = card["metadata"]["event_payload"]["request_id"]
        answer = await h.send(
            sp.block_actions(
                SECRET,
                user_id="UBOB",
                action_id="approve_request",
                block_id="card_actions",
                value=request_id,
                channel_id=CHANNEL,
                message_ts=card["ts"],
                message=card,
                trigger_id=sp.new_trigger_id(),
                response_url=h.fake.response_url("click-UBOB"),
            )
        )
        assert answer.status_code == 200
        await h.wait_request(lambda r: len(r.approvals) == 1, request_id=request_id)
        # The tries after the failed look-ups come after backoffs: time runs ahead meanwhile.
        request = await h.fast_forward(h.wait_request(lambda r: r.message_ts is not None, request_id=request_id))
        assert [c["ts"] for c in cards_of(h, request_id)] == [request.message_ts]
        await h.fast_forward(h.wait_card(request, "awaiting approval (1/2)"))


async def test_a_thread_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.fake.drop_next("chat.postMessage", when=lambda args: "approved (1/1)" in args["text"])
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "Restore completed")
        await h.quiet()
        thread = h.thread_texts(request)
        assert sum("approved (1/1)" in t for t in thread) == 1, thread
        assert sum("submitted to DDM" in t for t in thread) == 1 and "approved (1/1)" in thread[0]
        assert [c.dropped for c in h.fake.calls_of("chat.postMessage") if "approved (1/1)" in c.args["text"]] == [True]


async def submit_the_form(h: BotHarness) -> None:
    view_id = await h.open_form()
    await h.choose_source(view_id)
    await h.submit_step1(view_id)
    pushed = h.top_view[view_id]
    assert pushed
    state = h.suggested_state(await h.wait_step2(pushed))
    h.fake.channels[CHANNEL].is_member = False  # removed from the channel while the form was open
    await h.submit_view(pushed, state)


async def test_a_dm_to_the_requester(tmp_path: Path) -> None:
    """The card can't be posted and no ephemeral can reach the requester there: a DM says why, once."""
    async with running_bot(tmp_path) as h:
        h.fake.drop_next("chat.postMessage", when=lambda args: args["channel"] == "UALICE")
        await submit_the_form(h)
        await h.wait_request(lambda r: r.state is S.CANCELLED)
        await until(lambda: dms_to(h, "UALICE") or None, 8, lambda: "no DM to the requester")
        await h.quiet()
        told = dms_to(h, "UALICE")
        assert len(told) == 1 and "was not created" in told[0] and "/invite @ddm-restore" in told[0]
        assert [c.dropped for c in h.fake.calls_of("chat.postMessage") if c.args["channel"] == "UALICE"] == [True]


async def test_an_ephemeral_to_the_requester(tmp_path: Path) -> None:
    """An ephemeral can't be read back: one whose connection dropped is taken as shown, not sent again (nor
    doubled by a DM)."""
    async with running_bot(tmp_path) as h:
        h.fake.fail_next("chat.postMessage", "not_in_channel")  # the card (the channel still takes ephemerals)
        h.fake.drop_next("chat.postEphemeral", when=lambda args: "was not created" in args["text"])
        view_id = await h.open_form()
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        await h.submit_view(pushed, h.suggested_state(await h.wait_step2(pushed)))
        await h.wait_ephemeral("UALICE", "was not created")
        await h.quiet()
        assert sum("was not created" in t for t in h.ephemerals_for("UALICE")) == 1
        assert dms_to(h, "UALICE") == []


async def test_a_card_update_is_sent_again_at_once(tmp_path: Path) -> None:
    """chat.update is harmless to repeat: slack_sdk resends it at once, and the card ends as the request does."""
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.fake.drop_next("chat.update")
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "✅ Verified")
        await h.wait_card(request, "verified")
        await h.quiet()
        updates = h.fake.calls_of("chat.update")
        assert updates[0].dropped and updates[1].args == updates[0].args and not updates[1].dropped
        assert updates[1].at - updates[0].at < 2.0  # slack_sdk's own resend, not the announcer's next try
        assert "approve_request" not in h.card_text(request)


async def test_the_dms_to_the_requester_when_the_thread_is_gone(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        h.fake.channels[CHANNEL].is_archived = True
        h.fake.drop_next("chat.postMessage", when=lambda args: args["channel"] == "UALICE")
        await h.click("approve_request", request, user="UBOB")
        await until(
            lambda: any("Restore completed" in t for t in dms_to(h, "UALICE")) or None,
            15,
            lambda: f"the requester never heard the end: {dms_to(h, 'UALICE')}",
        )
        await h.quiet()
        told = dms_to(h, "UALICE")
        assert len(told) == len(set(told)), told
        assert sum("approved (1/1)" in t for t in told) == 1


async def test_the_dms_to_reviewers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An overdue follow-up review: the reminder in the thread and a DM to each reviewer, once each, though the
    connection of one DM dropped."""
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")
    async with running_bot(tmp_path, environments=URGENT) as h:
        h.fake.add_channel("CPROD", "prod")
        h.fake.drop_next("chat.postMessage", when=lambda args: args["channel"] == "UCAROL")
        incident = {
            "urgent": {"urgent": CHECKED},
            "incident": {"incident": {"type": "plain_text_input", "value": "INC-9001"}},
        }
        request = await h.request_restore(channel="CPROD", extra_state=incident)
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "Follow-up review due by")
        h.clock.advance(REVIEW_WITHIN + timedelta(minutes=1))
        await h.wait_thread(request, "is overdue")
        await h.fast_forward(  # the dropped DM's next try comes after a backoff
            until(lambda: (dms_to(h, "UCAROL") and dms_to(h, "UERIN")) or None, 8, lambda: "no DM to a reviewer")
        )
        await h.quiet()
        assert [len(dms_to(h, u)) for u in ("UCAROL", "UERIN")] == [1, 1]
        assert "overdue" in dms_to(h, "UCAROL")[0]
        assert sum("is overdue" in t for t in h.thread_texts(request)) == 1
