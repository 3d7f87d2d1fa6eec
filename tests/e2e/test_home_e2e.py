"""The App Home tab end to end: what waits for an approver, with the card's Approve (and its confirm dialog) and
Reject; a non-approver sees no buttons, and a click forged from Home is refused by the very same rules; the tab is
published again once the request changes. The Drills section shows only when their environments have drills, and
is drawn again when a drill's status changes. (Across replicas: test_home_replicas_e2e.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.playground import slack_payloads as sp
from bot.restore.cron import parse_cron
from bot.restore.request import RequestState as S
from bot.restore.request import RestoreRequest
from bot.restore.timeparse import epoch_ms_of, utc_text
from tests.support.harness import CREDENTIALS, GROUP, SECRET, BotHarness, running_bot, until
from tests.support.homes import drill_blocks, home_buttons, home_text, homes_settled, open_home, publishes
from tests.support.reminders import CHANNEL, ENVIRONMENTS, ONCALL_GROUP, dms_to

QUIET = ENVIRONMENTS.replace("remind_after_minutes = 0.05", "remind_after_minutes = 60").replace(
    "escalate_after_minutes = 0.1", "escalate_after_minutes = 120"
)
DRILL = """
[[environment.drill]]
name = "orders yearly"
schedule = "0 0 1 JAN *"   # not due while the test runs: started by a person
source = "orders-prod"
targets = ["orders-restore-3"]
approval = "stages"
"""


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


async def click_home(h: BotHarness, action_id: str, request: RestoreRequest, user: str) -> None:
    home = h.fake.home_of(user) or {"id": "V0HOME", "type": "home", "blocks": []}
    answer = await h.send(
        sp.block_actions(
            SECRET,
            user_id=user,
            action_id=action_id,
            block_id=f"home_actions:{request.id}",
            value=request.id,
            view=home,
            trigger_id=sp.new_trigger_id(),
        )
    )
    assert answer.status_code == 200, answer.text


async def test_an_approver_approves_from_home_a_non_approver_cannot_and_home_follows(tmp_path: Path) -> None:
    async with running_bot(tmp_path, environments=QUIET) as h:
        h.fake.add_channel(CHANNEL, "prod")
        h.fake.set_usergroup(ONCALL_GROUP, [])
        request = await h.request_restore(channel=CHANNEL)

        approver = await open_home(h, "UCAROL")
        assert f"`{request.id}`" in home_text(approver)
        approve, reject = home_buttons(approver)
        assert (approve["action_id"], approve["value"], reject["action_id"]) == (
            "approve_request",
            request.id,
            "reject_request",
        )
        assert approve["confirm"]["title"]["text"] == "Approve this restore?"  # the card's confirm dialog

        outsider = await open_home(h, "UDAN")
        assert home_buttons(outsider) == [] and "Nothing waits for your approval." in home_text(outsider)
        assert drill_blocks(outsider) == [] and "Drills" not in home_text(outsider)  # their environment has none
        assert f"`{request.id}`" in home_text(outsider)  # recent in the environments they may request in
        await click_home(h, "approve_request", request, "UDAN")  # forged: no button was shown to them
        await until(
            lambda: next((t for t in dms_to(h, "UDAN") if "can approve" in t), None),
            timeout=5,
            describe=lambda: f"no refusal by DM: {dms_to(h, 'UDAN')}",
        )
        assert f"<!subteam^{GROUP}>" in dms_to(h, "UDAN")[-1]
        assert (await h.wait_request(lambda r: True, request_id=request.id)).state is S.PENDING

        requester = await open_home(h, "UALICE")
        assert home_buttons(requester) == [] and f"`{request.id}`" in home_text(requester)

        await click_home(h, "approve_request", request, "UCAROL")
        approved = await h.wait_request(lambda r: r.state is not S.PENDING, request_id=request.id)
        assert approved.approver_ids == ("UCAROL",)
        # Published again after the change, without the tab being opened again.
        home = await until(
            lambda: found if not home_buttons(found := h.fake.home_of("UCAROL") or approver) else None,
            timeout=8,
            describe=lambda: "the approver's Home still offers the buttons",
        )
        assert "Nothing waits for your approval." in home_text(home)
        mine = await until(
            lambda: found if (found := h.fake.home_of("UALICE") or requester)["hash"] != requester["hash"] else None,
            timeout=8,
            describe=lambda: "the requester's Home was not published again",
        )
        assert f"`{request.id}`" in home_text(mine) and "awaiting approval" not in home_text(mine)


async def test_home_shows_the_drills_of_their_environment(tmp_path: Path) -> None:
    async with running_bot(tmp_path, environments=QUIET + DRILL) as h:
        h.fake.add_channel(CHANNEL, "prod")
        h.fake.set_usergroup(ONCALL_GROUP, [])
        home = await open_home(h, "UDAN")
        title, drill = drill_blocks(home)
        assert (title["block_id"], title["text"]["text"], drill["block_id"]) == (
            "home_drills_title",
            "Drills",
            "home_drill:0",
        )
        upcoming = utc_text(epoch_ms_of(parse_cron("0 0 1 JAN *").next_after(datetime.now(UTC))), millis=False)
        assert drill["text"]["text"] == (
            f"• 🧪 *orders yearly* — `0 0 1 JAN *` · approval stages · next run {upcoming} · last: never ran · "
            "targets left unknown (DDM not asked yet) of 1"
        )

        since = len(h.fake.calls)
        await h.command("drill run orders yearly", channel=CHANNEL)
        started = str((await h.fake.wait_for("response_url:UALICE", since=since)).args["text"])
        assert "started" in started, started
        request = await h.wait_request(lambda r: r.plan.drill == "orders yearly", timeout=5)
        home = await open_home(h, "UDAN")
        assert f"last: {request.id} pending (" in drill_blocks(home)[1]["text"]["text"]


async def test_a_drill_s_new_status_redraws_the_home_of_whoever_sees_it(tmp_path: Path) -> None:
    nowhere = DRILL.replace('targets = ["orders-restore-3"]', 'targets = ["no-such-target"]')
    async with running_bot(tmp_path, environments=QUIET + nowhere) as h:
        h.fake.add_channel(CHANNEL, "prod")
        h.fake.set_usergroup(ONCALL_GROUP, [])
        before = await open_home(h, "UDAN")  # may request in the drill's environment; no part in the drill
        assert "last: never ran · targets left unknown" in drill_blocks(before)[1]["text"]["text"]
        since = len(h.fake.calls)
        await h.command("drill run orders yearly", channel=CHANNEL)
        assert "did not start" in str((await h.fake.wait_for("response_url:UALICE", since=since)).args["text"])
        # No request was made (no outbox row): the drill loop's change alone redraws the Home, unopened.
        home = await until(
            lambda: found if (found := h.fake.home_of("UDAN") or before)["hash"] != before["hash"] else None,
            timeout=8,
            describe=lambda: "the Home was not drawn again after the drill's status changed",
        )
        assert "last: no_target (" in drill_blocks(home)[1]["text"]["text"]
        assert "targets left 0 of 1" in drill_blocks(home)[1]["text"]["text"]
        await homes_settled(h)
        assert publishes(h, "UDAN", since) == 1
