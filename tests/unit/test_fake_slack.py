"""FakeSlack and slack_payloads against the real clients: slack_sdk's AsyncWebClient, bolt's AsyncApp (dispatch and
its aiohttp server), and bolt's aiohttp AsyncSocketModeHandler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack, FakeUser, RecordedCall

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-1-A0001-test"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "ddm_restore_request",
    "title": {"type": "plain_text", "text": "DDM restore"},
    "submit": {"type": "plain_text", "text": "Review"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "reason_input"},
        },
        {
            "type": "input",
            "block_id": "source_instance",
            "label": {"type": "plain_text", "text": "Source"},
            "element": {"type": "external_select", "action_id": "source_select"},
        },
    ],
}


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user(FakeUser("U1", "alice", tz="Europe/Berlin", tz_offset=3600))
        server.add_user(FakeUser("UGUEST", "guest", is_restricted=True))
        server.add_channel("C1", "ops")
        server.add_channel("COUT", "elsewhere", is_member=False)
        server.set_usergroup("S1", ["U1", "U2"])
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)


async def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# --- Web API ----------------------------------------------------------------------------------------------


async def test_auth_test_and_token_checks(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert (answer["user_id"], answer["team_id"], answer["bot_id"]) == ("UBOT", "T0001", "B0001")
    assert fake.calls[0].token == BOT_TOKEN

    no_token = AsyncWebClient(base_url=fake.base_url)
    assert (await error_of(no_token.auth_test())).response["error"] == "not_authed"
    app_token = AsyncWebClient(token=APP_TOKEN, base_url=fake.base_url)
    assert (await error_of(app_token.chat_postMessage(channel="C1", text="x"))).response["error"] == (
        "not_allowed_token_type"
    )
    assert (await error_of(client.apps_connections_open(app_token=BOT_TOKEN))).response["error"] == (
        "not_allowed_token_type"
    )
    assert (await error_of(client.api_call("chat.scheduleMessage"))).response["error"] == "unknown_method"
    assert fake.calls_of("chat.scheduleMessage")[0].error == "unknown_method"


async def test_args_arrive_the_same_as_json_form_or_query(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    await client.chat_postMessage(channel="C1", text="json", blocks=blocks)  # JSON body
    await client.api_call("chat.postMessage", data={"channel": "C1", "text": "form", "blocks": json.dumps(blocks)})
    await client.api_call("chat.postMessage", params={"channel": "C1", "text": "query", "blocks": json.dumps(blocks)})
    assert [c.args["text"] for c in fake.calls_of("chat.postMessage")] == ["json", "form", "query"]
    assert all(c.args["blocks"] == blocks for c in fake.calls_of("chat.postMessage"))
    assert [m["text"] for m in fake.messages["C1"]] == ["json", "form", "query"]
    form_view = await client.api_call("views.open", data={"trigger_id": "t1", "view": json.dumps(MODAL)})
    assert form_view["view"]["callback_id"] == "ddm_restore_request"


async def test_messages_threads_updates_and_permalinks(fake: FakeSlack, client: AsyncWebClient) -> None:
    card = await client.chat_postMessage(channel="C1", text="card", blocks=[{"type": "divider"}])
    assert card["channel"] == "C1" and card["message"]["text"] == "card" and card["message"]["bot_id"] == "B0001"
    reply = await client.chat_postMessage(channel="C1", thread_ts=card["ts"], text="job 42 submitted")
    assert abs(float(card["ts"]) - time.time()) < 5 and float(reply["ts"]) > float(card["ts"])  # when posted
    assert [m["text"] for m in fake.thread("C1", card["ts"])] == ["job 42 submitted"]
    assert fake.message("C1", card["ts"])["reply_count"] == 1

    updated = await client.chat_update(channel="C1", ts=card["ts"], text="card v2")
    assert updated["ts"] == card["ts"] and updated["message"]["text"] == "card v2"
    assert fake.messages["C1"][0]["text"] == "card v2"
    assert fake.messages["C1"][0]["blocks"] == [{"type": "divider"}]  # not sent again: kept, as Slack does
    await client.chat_update(channel="C1", ts=card["ts"], text="card v3", blocks=[])
    assert fake.messages["C1"][0]["blocks"] == []

    link = await client.chat_getPermalink(channel="C1", message_ts=reply["ts"])
    assert link["permalink"].endswith(f"/archives/C1/p{reply['ts'].replace('.', '')}?thread_ts={card['ts']}&cid=C1")

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert ephemeral["message_ts"] and fake.ephemerals["C1"][0]["user"] == "U1"

    dm = await client.chat_postMessage(channel="U1", text="psst")
    assert dm["channel"] == fake.dm_channel("U1") and fake.messages[dm["channel"]][0]["text"] == "psst"

    errors = [
        (await error_of(client.chat_postMessage(channel="COUT", text="x"))).response["error"],
        (await error_of(client.chat_postEphemeral(channel="COUT", user="U1", text="x"))).response["error"],
        (await error_of(client.api_call("chat.postMessage", json={"channel": "C1"}))).response["error"],
        (await error_of(client.chat_update(channel="C1", ts="1.2", text="x"))).response["error"],
        (await error_of(client.chat_getPermalink(channel="C1", message_ts="1.2"))).response["error"],
        (await error_of(client.chat_postMessage(channel="UNOBODY", text="x"))).response["error"],
    ]
    assert errors == [
        "not_in_channel",
        "not_in_channel",
        "no_text",
        "message_not_found",
        "message_not_found",
        "channel_not_found",
    ]


async def test_thread_replies_keep_metadata(fake: FakeSlack, client: AsyncWebClient) -> None:
    metadata = {"event_type": "ddm_restore_request", "event_payload": {"request_id": "R-7F3A"}}
    card = await client.chat_postMessage(channel="C1", text="card", metadata=metadata)
    reply = await client.chat_postMessage(channel="C1", thread_ts=card["ts"], text="approved")
    await client.chat_postMessage(channel="C1", text="another card")

    plain = await client.conversations_replies(channel="C1", ts=card["ts"])
    assert [m["text"] for m in plain["messages"]] == ["card", "approved"] and "metadata" not in plain["messages"][0]
    full = await client.conversations_replies(channel="C1", ts=reply["ts"], include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata and full["has_more"] is False
    limited = await client.conversations_replies(channel="C1", ts=card["ts"], limit=1)
    assert [m["text"] for m in limited["messages"]] == ["card"] and limited["has_more"] is True
    assert (await error_of(client.conversations_replies(channel="C1", ts="1.2"))).response["error"] == (
        "thread_not_found"
    )


async def test_channel_history_newest_first_without_replies(fake: FakeSlack, client: AsyncWebClient) -> None:
    metadata = {"event_type": "ddm_restore_card", "event_payload": {"request_id": "R-7F3A"}}
    card = await client.chat_postMessage(channel="C1", text="card", metadata=metadata)
    await client.chat_postMessage(channel="C1", thread_ts=card["ts"], text="approved")
    later = await client.chat_postMessage(channel="C1", text="another card")
    plain = await client.conversations_history(channel="C1")
    assert [m["text"] for m in plain["messages"]] == ["another card", "card"] and "metadata" not in plain["messages"][1]
    full = await client.conversations_history(channel="C1", include_all_metadata=True, limit=1)
    assert full["messages"][0]["ts"] == later["ts"] and full["has_more"] is True
    assert (await client.conversations_history(channel="C1", include_all_metadata=True))["messages"][1][
        "metadata"
    ] == metadata
    assert (await error_of(client.conversations_history(channel="CNOPE"))).response["error"] == "channel_not_found"


async def test_history_pages_ranges_and_dms_as_slack_reads_them(fake: FakeSlack, client: AsyncWebClient) -> None:
    tag = {"event_type": "ddm_restore_notice", "event_payload": {"request_id": "R-1", "seq": 1}}
    posted = [(await client.chat_postMessage(channel="C1", text=f"m{i}", metadata=tag))["ts"] for i in range(5)]

    # Pages of `limit`, newest first, following next_cursor; a post between two pages does not shift the second.
    first = await client.conversations_history(channel="C1", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    await client.chat_postMessage(channel="C1", text="newer")
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_history(channel="C1", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    third = await client.conversations_history(channel="C1", limit=2, cursor=second["response_metadata"]["next_cursor"])
    assert [m["text"] for m in third["messages"]] == ["m0"]
    assert third["has_more"] is False and third["response_metadata"]["next_cursor"] == ""
    assert (await error_of(client.conversations_history(channel="C1", cursor="bm9wZQ=="))).response["error"] == (
        "invalid_cursor"
    )

    # oldest / latest are exclusive unless inclusive.
    between = await client.conversations_history(channel="C1", oldest=posted[1], latest=posted[3])
    assert [m["text"] for m in between["messages"]] == ["m2"]
    inclusive = await client.conversations_history(channel="C1", oldest=posted[1], latest=posted[3], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    assert (await error_of(client.conversations_history(channel="C1", oldest="soon"))).response["error"] == (
        "invalid_ts_oldest"
    )

    # Replies page and filter the same way, oldest first.
    for i in range(3):
        await client.chat_postMessage(channel="C1", thread_ts=posted[0], text=f"r{i}")
    replies = await client.conversations_replies(channel="C1", ts=posted[0], limit=2, oldest=posted[0])
    assert [m["text"] for m in replies["messages"]] == ["r0", "r1"] and replies["has_more"] is True
    rest = await client.conversations_replies(
        channel="C1", ts=posted[0], limit=2, oldest=posted[0], cursor=replies["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["r2"]

    # A DM is read back where conversations.open says it is, metadata only when asked for.
    dm = (await client.conversations_open(users="U1"))["channel"]["id"]
    assert dm == fake.dm_channel("U1") and (await client.conversations_history(channel=dm))["messages"] == []
    await client.chat_postMessage(channel="U1", text="psst", metadata=tag)
    plain, full = (
        await client.conversations_history(channel=dm),
        await client.conversations_history(channel=dm, include_all_metadata=True),
    )
    assert plain["messages"][0]["text"] == "psst" and "metadata" not in plain["messages"][0]
    assert full["messages"][0]["metadata"] == tag
    assert (await error_of(client.conversations_open(users="U404"))).response["error"] == "user_not_found"

    # A bot reads only the conversations it is in.
    assert (await error_of(client.conversations_history(channel="COUT"))).response["error"] == "not_in_channel"


async def test_channel_members(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C2", "drills", members=["U1", "UGUEST"])
    assert (await client.conversations_members(channel="C2"))["members"] == ["U1", "UGUEST", "UBOT"]
    assert (await client.conversations_members(channel="COUT"))["members"] == []
    assert (await error_of(client.conversations_members(channel="C404"))).response["error"] == "channel_not_found"


async def test_strict_channels() -> None:
    async with FakeSlack(strict_channels=True) as strict:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=strict.base_url)
        assert (await error_of(client.chat_postMessage(channel="C404", text="x"))).response["error"] == (
            "channel_not_found"
        )


async def test_directory_methods(fake: FakeSlack, client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U1"))["user"]
    assert (user["id"], user["tz"], user["tz_offset"], user["is_restricted"]) == ("U1", "Europe/Berlin", 3600, False)
    assert (await client.users_info(user="UGUEST"))["user"]["is_restricted"] is True
    assert (await error_of(client.users_info(user="U404"))).response["error"] == "user_not_found"

    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    assert (await error_of(client.usergroups_users_list(usergroup="S404"))).response["error"] == "no_such_subteam"

    channel = (await client.conversations_info(channel="COUT"))["channel"]
    assert (channel["name"], channel["is_member"], channel["is_im"]) == ("elsewhere", False, False)
    fake.add_channel("D1", "alice", is_im=True, user="U1")
    refused = (await error_of(client.conversations_info(channel="D1"))).response
    assert (refused["error"], refused["needed"]) == ("missing_scope", "im:read")  # the manifest has no im:read
    fake.scopes |= {"im:read"}
    assert (await client.conversations_info(channel="D1"))["channel"]["is_im"] is True
    assert (await error_of(client.conversations_info(channel="C404"))).response["error"] == "channel_not_found"


async def test_views_open_push_update_and_hash(fake: FakeSlack, client: AsyncWebClient) -> None:
    trigger = sp.new_trigger_id()
    opened = (await client.views_open(trigger_id=trigger, view={**MODAL, "external_id": "req-1"}))["view"]
    view_id, first_hash = opened["id"], opened["hash"]
    assert opened["callback_id"] == "ddm_restore_request" and opened["state"] == {"values": {}}
    assert fake.views[view_id]["root_view_id"] == view_id
    assert (await error_of(client.views_open(trigger_id=trigger, view=MODAL))).response["error"] == (
        "exchanged_trigger_id"
    )

    # The user typed something; an update that keeps block_id/action_id keeps it, a new block_id resets it.
    fake.set_view_state(view_id, {"reason": {"reason_input": sp.plain_text_input("drill")}})
    updated = (await client.views_update(view_id=view_id, hash=first_hash, view=MODAL))["view"]
    assert updated["id"] == view_id and updated["hash"] != first_hash and updated["external_id"] == "req-1"
    assert updated["state"]["values"]["reason"]["reason_input"]["value"] == "drill"

    stale = await error_of(client.views_update(view_id=view_id, hash=first_hash, view=MODAL))
    assert stale.response["error"] == "hash_conflict"
    assert fake.views[view_id]["hash"] == updated["hash"]

    renamed = {**MODAL, "blocks": [{**MODAL["blocks"][0], "block_id": "reason_v2"}]}
    by_external = (await client.views_update(external_id="req-1", view=renamed))["view"]
    assert by_external["id"] == view_id and by_external["state"] == {"values": {}}
    assert (await error_of(client.views_update(view_id="V404", view=MODAL))).response["error"] == "not_found"

    pushed = (await client.views_push(trigger_id=sp.new_trigger_id(), view=MODAL))["view"]
    assert (pushed["previous_view_id"], pushed["root_view_id"]) == (view_id, view_id)
    await client.views_push(trigger_id=sp.new_trigger_id(), view=MODAL)
    full = await error_of(client.views_push(trigger_id=sp.new_trigger_id(), view=MODAL))
    assert full.response["error"] == "push_limit_reached"

    too_long = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    bad = await error_of(client.views_open(trigger_id=sp.new_trigger_id(), view=too_long))
    assert bad.response["error"] == "invalid_arguments"
    assert "json-pointer:/view/title/text" in bad.response["response_metadata"]["messages"][0]


async def test_expired_trigger_ids() -> None:
    async with FakeSlack(trigger_ttl=3.0) as fake:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
        old = f"1.{int((time.time() - 4) * 1000)}.fakeabc"
        assert (await error_of(client.views_open(trigger_id=old, view=MODAL))).response["error"] == (
            "expired_trigger_id"
        )
        assert (await client.views_open(trigger_id=sp.new_trigger_id(), view=MODAL))["ok"]


async def test_fail_next_queue_and_ratelimits(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("views.open", "expired_trigger_id")
    fake.fail_next("chat.postMessage", "not_in_channel", count=2)
    assert (await error_of(client.views_open(trigger_id="t", view=MODAL))).response["error"] == "expired_trigger_id"
    for _ in range(2):
        assert (await error_of(client.chat_postMessage(channel="C1", text="x"))).response["error"] == "not_in_channel"
    posted = await client.chat_postMessage(channel="C1", text="x")

    fake.fail_next("chat.update", "ratelimited", retry_after=0)
    limited = await error_of(client.chat_update(channel="C1", ts=posted["ts"], text="y"))
    assert limited.response.status_code == 429 and limited.response["error"] == "ratelimited"
    assert limited.response.headers["Retry-After"] == "0"

    patient = AsyncWebClient(
        token=BOT_TOKEN, base_url=fake.base_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    fake.fail_next("chat.update", "ratelimited", retry_after=0)
    assert (await patient.chat_update(channel="C1", ts=posted["ts"], text="z"))["ok"]
    assert [(c.status, c.error) for c in fake.calls_of("chat.update")] == [
        (429, "ratelimited"),
        (429, "ratelimited"),
        (200, None),
    ]


async def test_wait_for_and_its_timeout_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C1", text="late")

    fake.set_delay("chat.postMessage", 0.05)
    task = asyncio.create_task(later())
    call = await fake.wait_for("chat.postMessage", lambda c: c.args["text"] == "late")
    assert fake.messages["C1"][-1]["text"] == "late"  # wait_for returns answered calls: state already applied
    await task
    assert isinstance(call, RecordedCall) and call.token == BOT_TOKEN and call.answered
    with pytest.raises(AssertionError, match=r"no matching views\.open call .*'chat\.postMessage'"):
        await fake.wait_for("views.open", timeout=0.05)


async def test_response_urls(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.response_url("cmd1"), json={"text": "hi", "response_type": "ephemeral"}) as res:
            assert (res.status, await res.text()) == (200, "ok")
        fake.fail_next("response_url:cmd1", "expired_url", status=404)
        async with session.post(fake.response_url("cmd1"), json={"text": "again"}) as res:
            assert res.status == 404
    assert [c.args["text"] for c in fake.calls_of("response_url:cmd1")] == ["hi", "again"]


# --- signed payloads --------------------------------------------------------------------------------------


def test_payloads_are_signed_and_shaped_like_slack() -> None:
    body, headers = sp.slash_command(SECRET, text="help", user_id="U1", channel_id="C1", response_url="http://x/r")
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body, sp.forged(headers))
    assert not verifier.is_valid_request(body, sp.forged_signature(body))
    assert not verifier.is_valid_request(body, sp.signed(SECRET, body, timestamp=int(time.time()) - 301))
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    assert (fields["command"], fields["text"], fields["user_id"], fields["channel_id"]) == (
        "/ddm-restore",
        "help",
        "U1",
        "C1",
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"

    body, headers = sp.block_actions(
        SECRET, user_id="U1", action_id="approve_request", value="r1", channel_id="C1", message_ts="1.2"
    )
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["container"] == {"type": "message", "message_ts": "1.2", "channel_id": "C1", "is_ephemeral": False}
    assert payload["actions"][0]["type"] == "button" and payload["actions"][0]["value"] == "r1"
    assert verifier.is_valid_request(body, headers)


# --- bolt over HTTP ---------------------------------------------------------------------------------------


def bolt_app(fake: FakeSlack) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url), signing_secret=SECRET)


def as_bolt_request(body: bytes, headers: dict[str, str]) -> AsyncBoltRequest:
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    return AsyncBoltRequest(body=body.decode(), headers=bolt_headers)


async def test_bolt_app_served_over_http(fake: FakeSlack) -> None:
    app = bolt_app(fake)
    done = asyncio.Event()

    @app.command("/ddm-restore")
    async def command(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond(f"hello <@{body['user_id']}>")
        done.set()

    runner = web.AppRunner(app.web_app(), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        body, headers = sp.slash_command(SECRET, user_id="U1", channel_id="C1", response_url=fake.response_url("c1"))
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=sp.forged(headers)) as res:
                assert res.status == 401
            async with session.post(url, data=body, headers=headers) as res:
                assert res.status == 200
            await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.cleanup()

    opened = await fake.wait_for("views.open")
    assert opened.args["view"]["callback_id"] == "ddm_restore_request"
    assert (await fake.wait_for("response_url:c1")).args["text"] == "hello <@U1>"
    assert fake.methods()[0] == "auth.test"  # bolt authorizes the first request with auth.test, then caches it


async def test_bolt_routes_every_interaction_builder(fake: FakeSlack) -> None:
    app = bolt_app(fake)
    seen: dict[str, Any] = {}

    @app.action("approve_request")
    async def approve(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
        await ack()
        seen["approve"] = (context.user_id, context.channel_id, action["value"], body["container"]["message_ts"])

    @app.action("pick_time")
    async def pick(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        seen["pick"] = (body["view"]["id"], action["selected_date_time"], body["view"]["state"]["values"])

    @app.options("source_select")
    async def options(ack: Any, payload: dict[str, Any]) -> None:
        seen["options"] = (payload["block_id"], payload["value"])
        await ack(options=[{"text": {"type": "plain_text", "text": "ddm-1"}, "value": "ddm-1"}])

    @app.view("ddm_restore_request")
    async def submitted(ack: Any, view: dict[str, Any]) -> None:
        seen["submit"] = (view["private_metadata"], view["state"]["values"]["reason"]["reason_input"]["value"])
        await ack(response_action="errors", errors={"reason": "too short"})

    @app.view_closed("ddm_restore_request")
    async def closed(ack: Any, body: dict[str, Any]) -> None:
        seen["closed"] = body["is_cleared"]
        await ack()

    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    view = (await client.views_open(trigger_id=sp.new_trigger_id(), view=MODAL))["view"]
    posted = await client.chat_postMessage(channel="C1", text="card")
    message = fake.messages["C1"][0]

    def dispatch(built: tuple[bytes, dict[str, str]]) -> Any:
        return app.async_dispatch(as_bolt_request(*built))

    resp = await dispatch(
        sp.block_actions(
            SECRET, user_id="U1", action_id="approve_request", value="r1", channel_id="C1", message=message
        )
    )
    assert resp.status == 200
    state = {"restore_time": {"pick_time": sp.datetimepicker(1_700_000_000)}}
    resp = await dispatch(
        sp.block_actions(
            SECRET, user_id="U1", action_id="pick_time", view=view, selected_date_time=1_700_000_000, state_values=state
        )
    )
    assert resp.status == 200
    resp = await dispatch(
        sp.block_suggestion(
            SECRET, user_id="U1", action_id="source_select", block_id="source_instance", value="ddm", view=view
        )
    )
    assert resp.status == 200 and json.loads(resp.body)["options"][0]["value"] == "ddm-1"
    values = {"reason": {"reason_input": sp.plain_text_input("x")}}
    resp = await dispatch(
        sp.view_submission(SECRET, user_id="U1", view=view, state_values=values, private_metadata="req-9")
    )
    assert resp.status == 200 and json.loads(resp.body) == {
        "response_action": "errors",
        "errors": {"reason": "too short"},
    }
    resp = await dispatch(sp.view_closed(SECRET, user_id="U1", callback_id="ddm_restore_request"))
    assert resp.status == 200

    for _ in range(100):  # listeners that acked first finish right after: let them
        if {"approve", "pick"} <= seen.keys():
            break
        await asyncio.sleep(0.01)
    assert seen["approve"] == ("U1", "C1", "r1", posted["ts"])
    assert seen["pick"] == (view["id"], 1_700_000_000, state)
    assert seen["options"] == ("source_instance", "ddm")
    assert seen["submit"] == ("req-9", "x")
    assert seen["closed"] is False
    assert len(fake.calls_of("auth.test")) == 1


# --- bolt over Socket Mode --------------------------------------------------------------------------------


async def test_socket_mode_handler_receives_and_acks(fake: FakeSlack) -> None:
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url))
    done = asyncio.Event()

    @app.command("/ddm-restore")
    async def command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack("opening…")
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        done.set()

    @app.options("source_select")
    async def options(ack: Any) -> None:
        await ack(options=[{"text": {"type": "plain_text", "text": "ddm-1"}, "value": "ddm-1"}])

    handler = AsyncSocketModeHandler(app, app_token=APP_TOKEN)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        opened = await fake.wait_for("apps.connections.open")
        assert opened.token == APP_TOKEN
        envelope_id = await fake.socket_send(
            "slash_commands",
            sp.slash_command_payload(user_id="U1", channel_id="C1", response_url=fake.response_url("s1")),
        )
        ack = await fake.wait_socket_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "opening…"}}
        await asyncio.wait_for(done.wait(), 5)
        assert (await fake.wait_for("views.open")).token == BOT_TOKEN

        view = next(iter(fake.views.values()))
        suggestion = sp.block_suggestion_payload(
            user_id="U1", action_id="source_select", block_id="source_instance", value="dd", view=view
        )
        envelope_id = await fake.socket_send("interactive", suggestion)
        assert (await fake.wait_socket_ack(envelope_id))["payload"]["options"][0]["value"] == "ddm-1"

        # Slack's periodic "disconnect" message: the client fetches a new URL, reconnects and drops the old socket.
        await fake.socket_disconnect()
        await fake.wait_for("apps.connections.open", since=len(fake.calls))
        envelope_id = await fake.socket_send("interactive", suggestion)
        assert (await fake.wait_socket_ack(envelope_id))["envelope_id"] == envelope_id
        assert len(fake.calls_of("apps.connections.open")) == 2
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
