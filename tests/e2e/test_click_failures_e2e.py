"""A click whose work fails is never dropped: the clicker hears what happened and whether the click counted
(ephemeral, or a DM when that fails too), through the running bot with the fake Slack failing on purpose."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.playground import slack_payloads as sp
from bot.restore.request import Approval, RequestState
from bot.slack.answers import APPROVE, failure_outcome
from tests.support.card_request import make_request
from tests.support.harness import SECRET, running_bot

S = RequestState
NOT_COUNTED = "It did not count and nothing was recorded"


async def test_failed_approve_cancel_and_review_clicks_are_told_and_did_not_count(tmp_path: Path) -> None:
    async with running_bot(tmp_path, usergroup_cache_seconds=0) as h:
        request = await h.request_restore()
        for action, user, noun, button in (
            ("approve_request", "UBOB", "approval", "Approve"),
            ("cancel_request", "UALICE", "cancellation", "Cancel"),
            ("review_request", "UCAROL", "review", "Reviewed"),
        ):
            h.fake.fail_next("users.info", "internal_error", status=500)
            await h.click(action, request, user=user)
            told = await h.wait_ephemeral(user, f"Your {noun} of {request.id} did not go through")
            assert "Slack answered `internal_error` to `users.info`" in told, told
            assert NOT_COUNTED in told and f"press {button} again" in told
        stored = await h.runtime.store.get(request.id)
        assert stored is not None and stored.state is S.PENDING and stored.approvals == ()
        # pressed again, it works
        await h.click("approve_request", request, user="UBOB")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id)


async def test_a_failed_click_is_told_by_dm_when_the_ephemeral_fails_too(tmp_path: Path) -> None:
    async with running_bot(tmp_path, usergroup_cache_seconds=0) as h:
        request = await h.request_restore()
        h.fake.fail_next("users.info", "internal_error", status=500)
        h.fake.fail_next("chat.postEphemeral", "internal_error", status=500)
        since = len(h.fake.calls)
        await h.click("approve_request", request, user="UBOB")
        dm = await h.fake.wait_for(
            "chat.postMessage",
            lambda c: c.args.get("channel") == "UBOB" and "did not go through" in c.args["text"],
            since=since,
        )
        assert NOT_COUNTED in dm.args["text"]


async def test_failed_reject_click_and_reason_are_told_and_did_not_count(tmp_path: Path) -> None:
    async with running_bot(tmp_path, usergroup_cache_seconds=0) as h:
        request = await h.request_restore()
        h.fake.fail_next("users.info", "internal_error", status=500)
        await h.click("reject_request", request, user="UBOB")
        told = await h.wait_ephemeral("UBOB", f"I could not open the reason dialog to reject {request.id}")
        assert "`users.info`" in told and "Nothing was recorded; press Reject again" in told
        # the dialog opens on a second press; its submission meets Slack failing again
        since = len(h.fake.calls)
        await h.click("reject_request", request, user="UBOB")
        opened = await h.fake.wait_for("views.open", since=since)
        view_id = str(opened.args["view"].get("id") or sorted(h.fake.views)[-1])
        h.fake.fail_next("users.info", "internal_error", status=500)
        answer = await h.send(
            sp.view_submission(
                SECRET,
                user_id="UBOB",
                view=h.fake.views[view_id],
                state_values={"reason": {"reason": sp.plain_text_input("wrong target")}},
                trigger_id=sp.new_trigger_id(),
            )
        )
        assert answer.status_code == 200
        errors = json.loads(answer.text)["errors"]
        assert f"Your rejection of {request.id} did not go through" in errors["reason"]
        assert "`users.info`" in errors["reason"] and NOT_COUNTED in errors["reason"]
        stored = await h.runtime.store.get(request.id)
        assert stored is not None and stored.state is S.PENDING


async def test_a_decision_that_counted_before_the_failure_says_so() -> None:
    approved = make_request(S.APPROVED, approvals=(Approval("UBOB", datetime(2026, 11, 27, tzinfo=UTC)),))

    async def read(_request_id: str) -> object:
        return approved

    counted, text = await failure_outcome(read, APPROVE, approved.id, "UBOB", RuntimeError("boom"))  # type: ignore[arg-type]
    assert counted is True
    assert text.startswith(f"⚠️ Your approval of {approved.id} counted (it is recorded), but what came after it failed")
    assert "something went wrong on my side (RuntimeError)" in text

    async def unreadable(_request_id: str) -> object:
        raise OSError("database gone")

    counted, text = await failure_outcome(unreadable, APPROVE, approved.id, "UBOB", RuntimeError("boom"))  # type: ignore[arg-type]
    assert counted is None and "can't read back whether it counted" in text
