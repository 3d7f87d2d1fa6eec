"""Scopes: every Web API method the bot can call is mapped to its scope and granted by manifest.yml; FakeSlack
grants exactly the manifest's and refuses the rest as Slack does (what a missing scope does to the running bot:
tests/e2e/test_slack_scopes_e2e.py)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.slack_api import FakeSlack, FakeUser
from bot.playground.slack_model import API_METHODS
from bot.playground.slack_scopes import (
    MANIFEST,
    SHIPPED_SCOPES,
    Kind,
    bot_scopes_of,
    depends_on_kind,
    known,
    manifest_scopes,
    scope_needed,
)
from bot.slack.retries import NOT_REPEATABLE, REPEATABLE

ROOT = Path(__file__).resolve().parents[2]
# The fake side of Slack and DDM: not the bot.
NOT_THE_BOT = ("bot/playground/", "bot/simulator/")
# What slack_bolt and slack_sdk call on the bot's behalf: bolt authorizes with auth.test; Socket Mode opens its
# connection with apps.connections.open (the app-level token).
CALLED_FOR_US = {"auth.test", "apps.connections.open"}
# The kinds of conversation the bot calls a kind-dependent method on. The card and its thread live in public
# and private channels (never in a DM: /ddm-restore refuses them); DMs are looked for in the app's IM with a
# person. A group DM is not a place for requests (conversations.info there fails; the card post then says so).
WHERE: dict[str, tuple[Kind, ...]] = {
    "conversations.info": ("public", "private"),
    "conversations.history": ("public", "private", "im"),
    "conversations.replies": ("public", "private"),
}


def web_api_names() -> dict[str, str]:
    """AsyncWebClient's method names -> the Web API method each calls (`chat_postMessage` -> `chat.postMessage`)."""
    names: dict[str, str] = {}
    for name, function in vars(AsyncWebClient).items():
        if name.startswith("_") or not inspect.iscoroutinefunction(function):
            continue
        called = re.search(r'api_call\(\s*"([\w.]+)"', inspect.getsource(function))
        if called:
            names[name] = called.group(1)
    return names


def methods_the_bot_calls() -> dict[str, set[str]]:
    """Every Web API method named in bot/ (a client method called or passed on, or api_call("…")) -> where."""
    names = web_api_names()
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(NOT_THE_BOT):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            method = None
            if isinstance(node, ast.Attribute) and node.attr in names:
                method = names[node.attr]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "api_call"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                method = str(node.args[0].value)
            if method is not None:
                found.setdefault(method, set()).add(f"{relative}:{node.lineno}")
    return found


def test_the_source_scan_sees_the_calls() -> None:
    """The scan itself: the calls known to be there are found (else the next test would pass on nothing)."""
    found = methods_the_bot_calls()
    expected = {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.getPermalink",
        "conversations.history",
        "conversations.replies",
        "conversations.open",
        "conversations.info",
        "users.info",
        "usergroups.users.list",
        "views.open",
        "views.update",
        "auth.test",  # passed on, not called: preflight's with_retries(client.auth_test, …)
    }
    assert expected <= found.keys(), expected - found.keys()
    assert any(where.startswith("bot/slack/posted.py") for where in found["conversations.open"])


def test_every_web_api_method_the_bot_calls_has_its_scope_in_the_manifest() -> None:
    granted = manifest_scopes()
    problems: list[str] = []
    for method, where in sorted((methods_the_bot_calls() | {method: {"bolt"} for method in CALLED_FOR_US}).items()):
        at = ", ".join(sorted(where))
        if not known(method):
            problems.append(f"{method} ({at}): say which scope it needs in bot/playground/slack_scopes.py")
            continue
        if method not in REPEATABLE | NOT_REPEATABLE:
            problems.append(f"{method} ({at}): say in bot/slack/retries.py whether a resend is harmless")
        if depends_on_kind(method) and method not in WHERE:
            problems.append(f"{method} ({at}): say in WHERE on which kinds of conversation the bot calls it")
            continue
        for kind in WHERE.get(method, ("public",)):
            needed = scope_needed(method, kind)
            if needed is not None and needed not in granted:
                problems.append(f"{method} on a {kind} conversation ({at}) needs {needed}: not in manifest.yml")
    assert problems == []


def test_the_fake_grants_exactly_the_manifest_scopes() -> None:
    from_yaml = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"]
    assert manifest_scopes() == frozenset(from_yaml) == FakeSlack().scopes
    # What an installed package (no manifest.yml beside it) grants in the playground: the same.
    assert frozenset(from_yaml) == SHIPPED_SCOPES
    assert bot_scopes_of("oauth_config:\n  scopes:\n    user:\n    - x\n    bot:\n    - a # why\n    - 'b'\n") == {
        "a",
        "b",
    }
    for method in API_METHODS:
        assert known(method), method  # the fake answers no method it has no scope for


async def test_a_method_without_its_scope_is_refused_as_slack_does() -> None:
    async with FakeSlack(scopes=manifest_scopes() - {"channels:history"}) as fake:
        fake.add_channel("C1", "ops")
        fake.add_channel("G1", "secret", is_private=True)
        fake.add_user(FakeUser("U1", "alice"))
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_history(channel="C1")
        answer = refused.value.response
        assert (answer["error"], answer["needed"]) == ("missing_scope", "channels:history")
        assert answer["provided"] == ",".join(sorted(manifest_scopes() - {"channels:history"}))
        assert answer.headers["X-OAuth-Scopes"] == answer["provided"]
        assert (await client.conversations_history(channel="G1"))["ok"]  # a private channel: groups:history
        fake.scopes = frozenset({"chat:write"})
        for call in (client.users_info(user="U1"), client.conversations_open(users="U1")):
            with pytest.raises(SlackApiError) as refused:
                await call
            assert refused.value.response["error"] == "missing_scope"
        assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
        assert (
            await client.views_open(
                trigger_id="1.2.fake",
                view={"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []},
            )
        )["ok"]
