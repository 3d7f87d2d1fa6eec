"""What a newcomer meets first, through the running bot: the command answers what it knows before it opens
anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.harness import CREDENTIALS, PROJECT, running_bot

ONE_ENVIRONMENT = f"""
[[environment]]
name = "prod"
channels = ["CPROD"]
region = "cn-north-4"
project_id = "{PROJECT}"
ddm_endpoint = "{{sim}}"
iam_endpoint = "{{sim}}"
credentials = {{ ak_env = "PROD_AK", sk_env = "PROD_SK" }}

[[environment.stage]]
name = "DBA lead"
approvers = {{ users = ["UBOB"] }}
"""


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
