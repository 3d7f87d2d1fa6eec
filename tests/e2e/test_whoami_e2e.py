"""`/ddm-restore whoami` end to end: the bot running with an environments file (stages, a user group, an urgent
path), the fake Slack telling who each person is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environments import URGENT
from tests.support.harness import CREDENTIALS, BotHarness, running_bot


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


async def whoami(h: BotHarness, user: str, channel: str) -> str:
    since = len(h.fake.calls)
    await h.command("whoami", user=user, channel=channel)
    call = await h.fake.wait_for(f"response_url:{user}", since=since)
    assert call.args["response_type"] == "ephemeral"
    return str(call.args["text"])


async def test_whoami_tells_each_person_their_standing_in_the_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path, environments=URGENT) as h:
        h.fake.add_channel("CPROD", "prod")
        h.fake.add_channel("CNONE", "none")

        # UCAROL is in the DBA leads' user group (asked of Slack: usergroups.users.list).
        assert await whoami(h, "UCAROL", "CPROD") == (
            "*What you may do in this channel*\n"
            "• Environment: *prod (cn-north-4)*\n"
            "• Request a restore here: yes\n"
            "• Approve in: *DBA lead*\n"
            "• Guest: no"
        )
        bob = (await whoami(h, "UBOB", "CPROD")).splitlines()
        assert bob[3] == "• Approve in: the urgent (break-glass) path"
        guest = (await whoami(h, "UGUEST", "CPROD")).splitlines()
        assert guest[2:] == [
            "• Request a restore here: no — Guests can't request restores.",
            "• Approve in: none",
            "• Guest: yes (guests, bots and deactivated accounts can't request or approve restores)",
        ]
        elsewhere = (await whoami(h, "UDAN", "CNONE")).splitlines()
        assert elsewhere[1:4] == [
            "• Environment: none",
            "• Request a restore here: no — This channel is not set up for restores. Restores can be requested in "
            "<#CPROD>.",
            "• Approve in: none (no environment)",
        ]
        direct = (await whoami(h, "UDAN", "DUDAN")).splitlines()
        assert direct[2] == (
            "• Request a restore here: no — Use `/ddm-restore` in a channel, so the team can see and approve the "
            "request."
        )

        # Slack failing to say who someone is (a person the directory has not cached): they hear so, not nothing.
        h.fake.fail_next("users.info", "internal_error", status=500)
        told = await whoami(h, "UERIN", "CPROD")
        assert told.startswith("⚠️ I can't tell what you may do here right now: Slack answered `internal_error` to ")
        assert "`users.info`" in told
