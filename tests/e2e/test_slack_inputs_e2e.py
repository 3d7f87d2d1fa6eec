"""What people and payloads can throw at the bot, through signed requests against the running bot: never a 500,
always an answer that says what went wrong — and text from DDM that can't ping, link or forge."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import create_async_engine

from bot.errors import NOTHING_RECORDED
from bot.playground import slack_payloads as sp
from bot.restore.request import RequestState, RestoreRequest
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID, DdmInstance, RdsInstance
from tests.support.harness import CHANNEL, SECRET, BotHarness, running_bot

S = RequestState
EVIL = "<!channel> <https://evil|click>"
EVIL_SHOWN = "&lt;!channel&gt; &lt;https://evil|click&gt;"


async def _step2(h: BotHarness) -> tuple[str, dict[str, Any]]:
    view_id = await h.open_form()
    await h.choose_source(view_id)
    response = await h.submit_step1(view_id)
    assert response.get("response_action") == "push", response
    pushed = h.top_view[view_id]
    assert pushed
    return pushed, await h.wait_step2(pushed)


async def _submit(h: BotHarness, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    answer = await h.send(sp.view_submission(SECRET, trigger_id=sp.new_trigger_id(), **kwargs))
    return answer.status_code, (json.loads(answer.text) if answer.text else {})


def _text_of(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks"), ensure_ascii=False)


# ---- form inputs --------------------------------------------------------------------------------------------


async def test_a_reason_over_500_characters_is_a_field_error(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        pushed, step2 = await _step2(h)
        response = await h.submit_view(pushed, h.suggested_state(step2, reason="x" * 501))
        assert response["response_action"] == "errors"
        assert "500 characters" in response["errors"]["reason"]
        assert await h.runtime.store.recent(5) == []


async def test_a_non_numeric_picker_value_is_a_field_error(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        state = {
            "source_instance": {"source_instance": sp.external_select(ORDERS_PROD_ID)},
            "restore_time": {"restore_time": {"type": "datetimepicker", "selected_date_time": "soon"}},
            "restore_time_exact": {"restore_time_exact": sp.plain_text_input(None)},
            "target_instance": {"target_instance": sp.external_select(ORDERS_RESTORE_1_ID)},
        }
        response = await h.submit_view(view_id, state)
        assert response["response_action"] == "errors"
        assert "pick the restore point again" in response["errors"]["restore_time"]


def _step1_state(*, exact: str | None = None, picker: Any = None) -> dict[str, Any]:
    return {
        "source_instance": {"source_instance": sp.external_select(ORDERS_PROD_ID)},
        "restore_time": {"restore_time": {"type": "datetimepicker", "selected_date_time": picker}},
        "restore_time_exact": {"restore_time_exact": sp.plain_text_input(exact)},
        "target_instance": {"target_instance": sp.external_select(ORDERS_RESTORE_1_ID)},
    }


async def test_restore_times_outside_pythons_dates_are_field_errors_naming_the_range(tmp_path: Path) -> None:
    """Typed, picked or forged: a time no backup can have is a field error, never "something went wrong"."""
    allowed = "2000-01-01 to 2999-12-31 UTC"
    async with running_bot(tmp_path) as h:
        view_id = await h.open_form()
        for exact in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
            response = await h.submit_view(view_id, _step1_state(exact=exact))
            assert response["response_action"] == "errors", (exact, response)
            assert allowed in response["errors"]["restore_time_exact"], exact
        for exact in ("nan", "inf", "-1e400", "99999999999999999999"):
            response = await h.submit_view(view_id, _step1_state(exact=exact))
            assert response["response_action"] == "errors", (exact, response)
            assert "restore_time_exact" in response["errors"], exact
            assert "went wrong" not in response["errors"]["restore_time_exact"]
        for picked in (10**30, -1, 0):
            response = await h.submit_view(view_id, _step1_state(picker=picked))
            assert response["errors"] == {"restore_time": f"The picked time is outside the times I accept ({allowed})."}
        # JSON's own spellings of what no int holds: 1e400 (infinity), -1e400, NaN
        marker = 123_456_789_012_345
        for literal, message in (("1e400", allowed), ("-1e400", allowed), ("NaN", "can't read")):
            payload = sp.view_submission_payload(
                user_id="UALICE", view=h.fake.views[view_id], state_values=_step1_state(picker=marker)
            )
            raw = json.dumps(payload, separators=(",", ":")).replace(str(marker), literal)
            body = urlencode({"payload": raw}).encode("utf-8")
            answer = await h.http.post(h.url, content=body, headers=sp.signed(SECRET, body))
            assert answer.status_code == 200, answer.text
            assert message in json.loads(answer.text)["errors"]["restore_time"], literal
        # the command's text path says the same before it opens anything
        since = len(h.fake.calls)
        await h.command("orders-prod at 0001-01-01T00:00:00+14:00 to orders-restore-1")
        told = await h.fake.wait_for("response_url:UALICE", since=since)
        assert allowed in told.args["text"]
        assert [c for c in h.fake.calls[since:] if c.method == "views.open"] == []
        assert await h.runtime.store.recent(5) == []


async def test_unreadable_step2_metadata_says_the_form_is_out_of_date(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        for metadata in ("{not json", '{"c":"COPS"}', '{"c":"COPS","s":["a","b"],"t":[],"ms":1,"n":{"x":"y"}}', ""):
            status, response = await _submit(
                h, user_id="UALICE", callback_id="ddm_restore_request", private_metadata=metadata
            )
            assert status == 200, metadata
            assert response["response_action"] == "update"
            assert "This form is out of date; run `/ddm-restore` again." in _text_of(response["view"])
        status, response = await _submit(h, user_id="UALICE", callback_id="ddm_restore_source", private_metadata="[1]")
        assert status == 200 and "out of date" in _text_of(response["view"])
        assert await h.runtime.store.recent(5) == []


async def test_button_values_that_name_no_request(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        for value in ("<!channel>", "", "R-" + "Z" * 3000):
            answer = await h.send(
                sp.block_actions(
                    SECRET,
                    user_id="UBOB",
                    action_id="approve_request",
                    value=value,
                    channel_id=CHANNEL,
                    message_ts="1700000000.000100",
                )
            )
            assert answer.status_code == 400, value
        answer = await h.send(
            sp.block_actions(
                SECRET,
                user_id="UBOB",
                action_id="cancel_request",
                value="R-ZZZZZZ",
                channel_id=CHANNEL,
                message_ts="1700000000.000100",
            )
        )
        assert answer.status_code == 200
        await h.wait_ephemeral("UBOB", "I know no request R-ZZZZZZ.")
        assert h.ephemerals_for("UBOB") == ["I know no request R-ZZZZZZ."]


# ---- Slack's limits, checked before Slack sees them -------------------------------------------------------


async def test_a_map_list_too_long_for_the_form_is_explained(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        pairs = " ".join(f"source-node-{i:02d}-{'s' * 50}={'t' * 80}{i:02d}" for i in range(30))
        since = len(h.fake.calls)
        await h.command(f"orders-prod at latest to orders-restore-1 map {pairs}")
        told = await h.fake.wait_for("response_url:UALICE", since=since)
        assert "`map` list is too long for Slack's form" in told.args["text"]
        assert told.args["response_type"] == "ephemeral"
        assert h.fake.calls_of("views.open") == []


async def test_more_than_100_instances_become_100_options_saying_how_many_more(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        world = h.sim.state.world
        for i in range(130):
            world.ddm_instances.append(DdmInstance(id=f"{i:032x}in09", name=f"bulk-{i:03d}-" + "n" * 90))
        view_id = await h.open_form()
        shown = await h.options(view_id, "source_instance")
        assert len(shown) == 100
        assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in shown)
        assert shown[-1]["value"] == "__choose_source_first__" and "more" in shown[-1]["text"]["text"]


# ---- the database is down ---------------------------------------------------------------------------------


@asynccontextmanager
async def database_down(h: BotHarness) -> AsyncIterator[None]:
    """The store pointed at a database that can't be opened (what a dead server looks like to the bot)."""
    store = h.runtime.store
    live, live_reader = store.engine, store.reader
    dead = create_async_engine(live.url.set(database=str(Path("/nonexistent-dir") / "bot.sqlite3")))
    store.engine, store.reader = dead, dead.execution_options(readonly=True)
    try:
        yield
    finally:
        store.engine, store.reader = live, live_reader
        await dead.dispose()


async def test_database_down_every_click_command_and_submit_is_answered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        request = await h.request_restore()
        pushed, step2 = await _step2(h)
        async with database_down(h):
            await _everything_is_answered(h, request, pushed, step2)


async def _everything_is_answered(h: BotHarness, request: RestoreRequest, pushed: str, step2: dict[str, Any]) -> None:
    started = time.monotonic()
    await h.click("approve_request", request, user="UBOB")
    await h.wait_ephemeral("UBOB", NOTHING_RECORDED, timeout=3)
    await h.click("reject_request", request, user="UCAROL")
    await h.wait_ephemeral("UCAROL", NOTHING_RECORDED, timeout=3)
    await h.click("cancel_request", request, user="UALICE")
    await h.wait_ephemeral("UALICE", NOTHING_RECORDED, timeout=3)
    assert time.monotonic() - started < 9

    for text in ("list", f"status {request.id}"):
        since = len(h.fake.calls)
        await h.command(text)
        told = await h.fake.wait_for("response_url:UALICE", since=since, timeout=3)
        assert told.args["text"] == NOTHING_RECORDED and told.args["response_type"] == "ephemeral"

    reason = {"reason": {"reason": sp.plain_text_input("wrong target")}}
    started = time.monotonic()
    status, response = await _submit(
        h, user_id="UBOB", callback_id="reject_reason", private_metadata=request.id, state_values=reason
    )
    assert time.monotonic() - started < 3
    assert status == 200 and response == {"response_action": "errors", "errors": {"reason": NOTHING_RECORDED}}

    started = time.monotonic()
    response = await h.submit_view(pushed, h.suggested_state(step2))
    assert time.monotonic() - started < 3
    if response.get("response_action") == "errors":
        assert NOTHING_RECORDED in response["errors"].values()
    else:  # the checks passed without the store; creating the request is what failed
        assert response == {"response_action": "clear"}
        await h.wait_ephemeral("UALICE", NOTHING_RECORDED, timeout=3)


# ---- DDM's text can't ping, link or forge -------------------------------------------------------------------


async def test_ddm_names_and_job_errors_are_shown_escaped(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        world = h.sim.state.world
        source = next(i for i in world.ddm_instances if i.id == ORDERS_PROD_ID)
        source.name = f"orders {EVIL}"
        target = next(i for i in world.ddm_instances if i.id == ORDERS_RESTORE_1_ID)
        target.restore_outcome, target.fail_reason = "Failed", f"disk gone {EVIL}"
        request = await h.request_restore()
        card = h.card_text(request)
        assert "<!channel>" not in card and "<https://evil" not in card
        assert f"orders {EVIL_SHOWN}" in card

        await h.click("approve_request", request, user="UBOB")
        final = await h.wait_thread(request, "failed", timeout=15)
        assert f"disk gone {EVIL_SHOWN}" in final
        failed = await h.wait_card(request, "failed")
        assert f"disk gone {EVIL_SHOWN}" in failed
        for text in [*h.thread_texts(request), failed]:
            assert "<!channel>" not in text and "<https://evil" not in text
        for call in h.fake.calls_of("chat.postMessage") + h.fake.calls_of("chat.update"):
            assert "<!channel>" not in str(call.args.get("text"))


async def test_a_source_with_more_data_nodes_than_a_form_holds_is_explained_in_the_form(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        world = h.sim.state.world
        for i in range(100):
            world.rds_instances.append(
                RdsInstance(id=f"{i:032x}aa01", name=f"bulk-src-{i}", ddm_instance_id=ORDERS_PROD_ID)
            )
            world.rds_instances.append(RdsInstance(id=f"{i:032x}bb01", name=f"bulk-free-{i}"))
        view_id = await h.open_form()
        await h.choose_source(view_id)
        response = await h.submit_step1(view_id)
        assert response.get("response_action") == "push", response
        pushed = h.top_view[view_id]
        assert pushed
        shown = await h.wait_step2(pushed, timeout=15)
        assert shown["callback_id"] != "ddm_restore_request"
        text = _text_of(shown)
        assert "data nodes" in text and "can't ask for its mapping here" in text
