"""Routing rules end to end: three rules choose each request's approval flow by its risk, step 2 names the flow
before submit, a freeze refuses in the form, the flow is frozen into the request (a restart with a changed
environments file leaves it as it was made), and `/ddm-restore history` tells what happened.

The rules read the desk's clock. The freeze is "weekends in ZONE": the test moves the desk's clock to a weekday
there for the requests that must pass (ZONE is the one of three zones, far apart, where the next weekday is nearest:
at most 23 h ahead, so a restore point from minutes ago stays newer than 24 h), and to the next weekend there for
the one that must be refused (that one never reaches DDM).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.app import build_runtime
from bot.playground.slack_api import FakeSlack
from bot.restore.flow import Flow, Stage
from bot.restore.request import RequestState as S
from bot.restore.request import RestoreRequest
from bot.simulator import RunningSimulator
from bot.simulator.world import ORDERS_RESTORE_3_ID, ORDERS_RESTORE_4_ID
from tests.support.environments import prod
from tests.support.harness import (
    CREDENTIALS,
    GROUP,
    BotHarness,
    harness_settings,
    populate,
    running_bot,
    serve_runtime,
)

CHANNEL = "CPROD"
FREEZE = "Restores are frozen at weekends; use the urgent path for incidents."


def _to_weekday(zone: str, now: datetime) -> timedelta:
    local = now.astimezone(ZoneInfo(zone))
    if local.weekday() < 5:
        return timedelta(0)
    monday = (local + timedelta(days=7 - local.weekday())).replace(hour=0, minute=1, second=0, microsecond=0)
    return monday.astimezone(UTC) - now


ZONE = min(
    ("Asia/Shanghai", "Pacific/Kiritimati", "Pacific/Pago_Pago"), key=lambda z: _to_weekday(z, datetime.now(UTC))
)


def environments(owner: str = "UDAN", *, rules: bool = True) -> str:
    text = (
        prod(CHANNEL, approvers=f'usergroups = ["{GROUP}"]')
        + f"""
[[environment.stage]]
name = "Service owner"
approvers = {{ users = ["{owner}"] }}
"""
    )
    if rules:
        text += f"""
[[environment.rule]]
name = "change freeze"
when = {{ weekdays = ["SAT", "SUN"], between = "00:00-23:59", timezone = "{ZONE}" }}
refuse = "{FREEZE}"

[[environment.rule]]
name = "old restore point"
when = {{ restore_point_older_than_hours = 24 }}
flow = ["DBA lead", "Service owner"]

[[environment.rule]]
name = "recent restore point"
when = {{ restore_point_newer_than_hours = 24 }}
flow = ["DBA lead"]
"""
    return text


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_AK", CREDENTIALS.ak or "")
    monkeypatch.setenv("PROD_SK", CREDENTIALS.sk or "")


def clock_on(h: BotHarness, moment: Callable[[datetime], datetime]) -> None:
    """The desk's clock (the rules' time) at `moment(now)`, running on from there."""
    now = datetime.now(UTC)
    skip = moment(now) - now
    h.runtime.desk.clock = lambda: datetime.now(UTC) + skip


def weekday(now: datetime) -> datetime:
    return now + _to_weekday(ZONE, now)


def weekend(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(ZONE))
    saturday = (local + timedelta(days=(5 - local.weekday()) % 7 or 7)).replace(hour=10, minute=0)
    return saturday.astimezone(UTC)


def hours_ago(hours: float) -> str:
    """A restore point as the form's exact time (epoch ms): DDM's clock is the wall's."""
    return str(int((datetime.now(UTC) - timedelta(hours=hours)).timestamp() * 1000))


async def step2(h: BotHarness, *, target: str, exact: str) -> tuple[str, dict[str, Any]]:
    """Step 1 submitted: the pushed step 2's view id and view."""
    view_id = await h.open_form(channel=CHANNEL)
    await h.choose_source(view_id)
    response = await h.submit_step1(view_id, target=target, exact=exact)
    assert response.get("response_action") == "push", response
    pushed = h.top_view[view_id]
    assert pushed
    return pushed, await h.wait_step2(pushed)


def flow_line(view: dict[str, Any]) -> str:
    (line,) = [b["text"]["text"] for b in view["blocks"] if b.get("block_id") == "approval_flow"]
    return str(line)


async def request_with(h: BotHarness, *, target: str, exact: str, needs: str) -> RestoreRequest:
    """The form, checking step 2 names `needs` before it is submitted; the request once its card is posted."""
    pushed, view = await step2(h, target=target, exact=exact)
    assert flow_line(view) == f"*This request needs:* {needs}"
    assert await h.submit_view(pushed, h.suggested_state(view)) == {"response_action": "clear"}
    return await h.wait_request(lambda r: r.plan.target.id == target and r.message_ts is not None)


async def answer(h: BotHarness, text: str) -> str:
    since = len(h.fake.calls)
    await h.command(text, channel=CHANNEL)
    return str((await h.fake.wait_for("response_url:UALICE", since=since)).args["text"])


LEAD, OWNER = Stage("DBA lead", approver_group_ids=frozenset({GROUP})), Stage("Service owner", frozenset({"UDAN"}))
BOTH = f"DBA lead (1 of <!subteam^{GROUP}>), then Service owner (<@UDAN>) — rule *old restore point*"


async def test_three_rules_route_by_the_restore_point_and_freeze_weekends(tmp_path: Path) -> None:
    async with running_bot(tmp_path, environments=environments()) as h:
        h.fake.add_channel(CHANNEL, "prod")
        clock_on(h, weekday)

        old = await request_with(h, target=ORDERS_RESTORE_3_ID, exact=hours_ago(48), needs=BOTH)
        assert old.flow == Flow((LEAD, OWNER), rule="old restore point") and old.required_approvals == 2
        card = await h.wait_card(old, "stage 1 of 2")
        assert "rule *old restore point*" in card and "waiting for <@UDAN> (0/1)" in card
        await h.click("approve_request", old, user="UCAROL")
        await h.wait_card(old, "stage 2 of 2")
        assert await h.sim_calls("recovery") == []  # one stage of two: nothing is sent
        await h.click("approve_request", old, user="UDAN")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=old.id)
        assert len(await h.sim_calls("recovery")) == 1

        recent = await request_with(
            h,
            target=ORDERS_RESTORE_4_ID,
            exact="latest",
            needs=f"DBA lead (1 of <!subteam^{GROUP}>) — rule *recent restore point*",
        )
        assert recent.flow == Flow((LEAD,), rule="recent restore point") and recent.required_approvals == 1
        await h.click("approve_request", recent, user="UERIN")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=recent.id)
        assert len(await h.sim_calls("recovery")) == 2

        # At a weekend: step 2 says so before submit, and the submit is refused on the form with the rule's words.
        clock_on(h, weekend)
        pushed, view = await step2(h, target=ORDERS_RESTORE_3_ID, exact="latest")
        assert flow_line(view) == f"⛔ *This request can't be made now:* {FREEZE}"
        response = await h.submit_view(pushed, h.suggested_state(view))
        assert response == {"response_action": "errors", "errors": {"reason": FREEZE}}
        assert [r.id for r in await h.runtime.store.recent(5)] == [recent.id, old.id]

        # status shows the frozen flow; history tells who asked, who approved in which stage, and the rule.
        clock_on(h, weekday)
        assert f"Approval flow: {BOTH}" in await answer(h, f"status {old.id}")
        history = (await answer(h, "history 1")).splitlines()
        assert history[0] == "*Restore requests in prod (cn-north-4), the last day*: 2, newest first · page 1 of 1"
        assert history[1].startswith(f"• `{recent.id}`") and "rule *recent restore point*" in history[1]
        assert "approved by <@UCAROL> (DBA lead), <@UDAN> (Service owner)" in history[2]
        assert "✅ verified" in history[2] and "rule *old restore point*" in history[2]


async def test_a_restart_with_a_changed_environments_file_leaves_a_pending_request_s_flow_as_made(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ddm-restore.toml"
    async with FakeSlack() as fake, RunningSimulator(credentials=CREDENTIALS, job_seconds=0.5) as sim:
        populate(fake)
        fake.add_channel(CHANNEL, "prod")
        settings = harness_settings(fake, sim, tmp_path / "bot.sqlite3", ddm_restore_config=str(path))

        async def started(text: str) -> tuple[Any, BotHarness, Any]:
            path.write_text(text.replace("{sim}", sim.base_url), encoding="utf-8")
            runtime = await build_runtime(settings, sweep_interval=0.2)
            await runtime.start_background()
            serving = serve_runtime(runtime)
            url = await serving.__aenter__()
            h = BotHarness(fake=fake, sim=sim, runtime=runtime, url=url, http=httpx.AsyncClient(timeout=10))
            clock_on(h, weekday)
            return runtime, h, serving

        first, h, serving = await started(environments())
        try:
            request = await request_with(h, target=ORDERS_RESTORE_3_ID, exact=hours_ago(30), needs=BOTH)
            await h.click("approve_request", request, user="UCAROL")
            await h.wait_card(request, "stage 2 of 2")
        finally:
            await h.http.aclose()
            await serving.__aexit__(None, None, None)
            await first.close()

        # Meanwhile the file changes: Bob is the service owner now, and there are no rules any more.
        second, h, serving = await started(environments(owner="UBOB", rules=False))
        try:
            assert (await second.store.get(request.id)).flow == request.flow  # type: ignore[union-attr]
            assert f"Approval flow: {BOTH}" in await answer(h, f"status {request.id}")
            await h.click("approve_request", request, user="UBOB")
            told = await h.wait_ephemeral("UBOB", "can approve")
            assert told == f"Only <@UDAN> or members of <!subteam^{GROUP}> can approve."
            assert await h.sim_calls("recovery") == []
            await h.click("approve_request", request, user="UDAN")
            done = await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id)
            assert [(a.user_id, a.stage) for a in done.approvals] == [("UCAROL", 1), ("UDAN", 2)]
            assert len(await h.sim_calls("recovery")) == 1
            # A request made now gets the file as it is now: both stages, Bob the owner, no rule.
            _, view = await step2(h, target=ORDERS_RESTORE_4_ID, exact="latest")
            assert flow_line(view) == (
                f"*This request needs:* DBA lead (1 of <!subteam^{GROUP}>), then Service owner (<@UBOB>)"
            )
        finally:
            await h.http.aclose()
            await serving.__aexit__(None, None, None)
            await second.close()
