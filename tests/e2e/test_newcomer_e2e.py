"""What a newcomer meets first, through the running bot: the command answers what it knows before it opens
anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environments import prod
from tests.support.harness import CREDENTIALS, running_bot

ONE_ENVIRONMENT = prod()


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


@pytest.mark.parametrize("text", ["", "orders-prod at latest to orders-restore-1"])
async def test_a_channel_in_no_environment_is_answered_before_any_form_opens(tmp_path: Path, text: str) -> None:
    async with running_bot(tmp_path, environments=ONE_ENVIRONMENT) as h:
        since = len(h.fake.calls)
        await h.command(text, channel="COPS")  # the bot is in #ops, but #ops restores nowhere
        told = await h.fake.wait_for("response_url:UALICE", since=since)
        assert told.args["response_type"] == "ephemeral"
        assert "not set up for restores" in told.args["text"] and "<#CPROD>" in told.args["text"]
        await h.command("help", channel="COPS")  # a later answer: everything the first one did is done
        await h.fake.wait_for("response_url:UALICE", lambda c: "/ddm-restore help" in c.args["text"], since=since)
        methods = [c.method for c in h.fake.calls[since:]]
        assert "views.open" not in methods and "views.update" not in methods and "users.info" not in methods


async def test_a_direct_message_is_answered_before_any_form_opens(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        h.fake.add_channel("DALICE", "alice", is_im=True)
        since = len(h.fake.calls)
        await h.command("", channel="DALICE")
        told = await h.fake.wait_for("response_url:UALICE", since=since)
        assert "Use `/ddm-restore` in a channel" in told.args["text"]
        assert "views.open" not in [c.method for c in h.fake.calls[since:]]


async def test_the_thread_records_progress_milestones_once_each(tmp_path: Path) -> None:
    """The README promises progress in the thread: 25, 50 and 75 %, each once, before the result."""
    async with running_bot(tmp_path, job_seconds=400) as h:
        request = await h.request_restore()
        await h.click("approve_request", request, user="UBOB")
        await h.wait_request(lambda r: r.job_progress is not None, request_id=request.id)
        for percent in (25, 50, 75):  # the job moves on a quarter at a time, as the test's clock says
            h.clock.advance(100)
            await h.wait_request(lambda r, p=percent: (r.job_progress or 0) >= p, request_id=request.id)
        h.clock.advance(100)
        await h.wait_thread(request, "Restore completed")
        thread = h.thread_texts(request)
        told = [t for t in thread if t.startswith("⏳ Restore job ")]
        assert [t.split(" is ")[1].split("%")[0] for t in told] == ["25", "50", "75"], thread
        done = next(i for i, t in enumerate(thread) if "Restore completed" in t)
        assert all(thread.index(t) < done for t in told)
        card = h.card_text(request)
        assert "completed" in card
