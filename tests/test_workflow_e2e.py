"""The restore workflow end to end: the bot in HTTP mode, the fake Slack Web API, the DDM simulator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.restore.request import RequestState
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID, ORDERS_RESTORE_2_ID
from tests.support import slack_payloads as sp
from tests.support.harness import CHANNEL, GROUP_MEMBERS, SECRET, BotHarness, running_bot

S = RequestState


def card_text(h: BotHarness, channel: str, ts: str) -> str:
    return json.dumps(h.fake.message(channel, ts)["blocks"], ensure_ascii=False)


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
        done = await h.wait_request(lambda r: r.state is S.COMPLETED, request_id=request.id)
        card = card_text(h, CHANNEL, request.message_ts or "")
        assert "completed" in card and "approve_request" not in card

        posts = await h.sim_calls("recovery")
        assert len(posts) == 1
        assert posts[0]["body"] == done.plan.restore_body()
        assert posts[0]["path"] == f"/v3/{done.plan.project_id}/instances/{ORDERS_PROD_ID}/backups/recovery"
        actions = [a.action for a in await h.runtime.store.audit_trail(request.id)]
        assert actions[:3] == ["create", "approve", "approved"] and "job_submitted" in actions and actions[-1] == "job_finished"
