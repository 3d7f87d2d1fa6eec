"""The shapes of Slack's requests to an app (slash commands, block_actions, block_suggestion, view_submission,
view_closed) as dicts: what an HTTP request carries (signed by `slack_payloads`) or a Socket Mode envelope holds."""

from __future__ import annotations

import copy
import itertools
import time
import uuid
from collections.abc import Mapping
from typing import Any

TEAM_ID = "T0001"


TEAM_DOMAIN = "fake-workspace"


APP_ID = "A0001"


BOT_ID = "B0001"


VERIFICATION_TOKEN = "verification-token"  # the deprecated `token` field Slack still sends


_seq = itertools.count(1)


def new_trigger_id() -> str:
    """A fresh trigger_id: `<seq>.<issued epoch ms>.fake<hex>`; FakeSlack(trigger_ttl=3) expires it like Slack."""
    return f"{next(_seq)}.{int(time.time() * 1000)}.fake{uuid.uuid4().hex[:12]}"


def action_ts() -> str:
    return f"{time.time():.6f}"


def plain_text_input(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def _option(value: str, text: str | None = None) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text if text is not None else value, "emoji": True}, "value": value}


def static_select(value: str | None, text: str | None = None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": None if value is None else _option(value, text)}


def external_select(value: str | None, text: str | None = None) -> dict[str, Any]:
    return {"type": "external_select", "selected_option": None if value is None else _option(value, text)}


def datetimepicker(epoch_seconds: int | None) -> dict[str, Any]:
    """`selected_date_time` is epoch SECONDS (minute granularity)."""
    return {"type": "datetimepicker", "selected_date_time": epoch_seconds}


def _user(user_id: str, user_name: str | None, team_id: str) -> dict[str, str]:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str) -> dict[str, str]:
    return {"id": team_id, "domain": TEAM_DOMAIN}


def _without_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def modal_view(
    *,
    view_id: str = "V123",
    callback_id: str = "",
    state_values: Mapping[str, Any] | None = None,
    private_metadata: str = "",
    external_id: str = "",
    hash: str = "h1",
    blocks: list[dict[str, Any]] | None = None,
    title: str = "DDM restore",
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A modal as it appears inside interaction payloads (what views.open returned, plus the user's state)."""
    return {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": copy.deepcopy(blocks or []),
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": copy.deepcopy(dict(state_values or {}))},
        "hash": hash,
        "title": {"type": "plain_text", "text": title, "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": external_id,
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }


def _with_state(view: Mapping[str, Any], state_values: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(view))
    out.setdefault("state", {"values": {}})
    out["state"].setdefault("values", {})
    if state_values:
        for block_id, actions in state_values.items():
            out["state"]["values"].setdefault(block_id, {}).update(copy.deepcopy(dict(actions)))
    return out


def slash_command_payload(
    *,
    command: str = "/ddm-restore",
    text: str = "",
    user_id: str,
    user_name: str | None = None,
    channel_id: str,
    channel_name: str = "ops",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str,
) -> dict[str, str]:
    """The fields of a slash command (all strings, in Slack's order)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def block_actions_payload(
    *,
    user_id: str,
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
    channel_id: str | None = None,
    channel_name: str = "ops",
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    selected_option: Mapping[str, Any] | str | None = None,
    selected_date_time: int | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    action_type: str | None = None,
    text: str | None = None,
    state_values: Mapping[str, Any] | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `block_actions` payload: a click in a message (channel_id/message given) or in a modal (view given).

    The element type is `action_type`, else `static_select` with selected_option, `datetimepicker` with
    selected_date_time, else `button` (with `text`, default the action_id, and `value`).
    `message` may be a FakeSlack stored message (`fake.messages[channel][i]`); without it a minimal bot message
    with `message_ts` is used. `state_values` go to `view.state.values` (modal) or the top-level `state` (message).
    """
    if view is None and channel_id is None:
        raise ValueError("block_actions needs channel_id (a message click) or view (a click inside a modal)")
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id or f"blk_{action_id}",
        "action_ts": action_ts(),
    }
    if selected_option is not None:
        option = _option(selected_option) if isinstance(selected_option, str) else dict(selected_option)
        action.update(type=action_type or "static_select", selected_option=option)
    elif selected_date_time is not None:
        action.update(type=action_type or "datetimepicker", selected_date_time=selected_date_time)
    else:
        action.update(
            type=action_type or "button", text={"type": "plain_text", "text": text or action_id, "emoji": True}
        )
    if value is not None:
        action["value"] = value

    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        full_view = _with_state(view, state_values)
        payload["container"] = {"type": "view", "view_id": full_view.get("id")}
        payload["view"] = full_view
    else:
        assert channel_id is not None
        if message is not None:
            msg = _without_none(copy.deepcopy(dict(message)))
            message_ts = message_ts or str(msg.get("ts"))
        else:
            if message_ts is None:
                raise ValueError("a message click needs message_ts (or message)")
            msg = {"type": "message", "user": "UBOT", "bot_id": BOT_ID, "ts": message_ts, "text": "", "blocks": []}
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if msg.get("thread_ts"):
            payload["container"]["thread_ts"] = msg["thread_ts"]
        payload["channel"] = {"id": channel_id, "name": channel_name}
        payload["message"] = msg
        payload["state"] = {"values": copy.deepcopy(dict(state_values or {}))}
    if response_url is not None:
        # Slack always sends one for message clicks; give `fake.response_url(key)`. Left out, bolt's `respond`
        # fails loudly instead of reaching the real hooks.slack.com.
        payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def block_suggestion_payload(
    *,
    user_id: str,
    action_id: str,
    block_id: str,
    value: str,
    view: Mapping[str, Any],
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """Options request for an external_select inside a modal; `value` is what the user typed."""
    full_view = _with_state(view, None)
    return {
        "type": "block_suggestion",
        "user": _user(user_id, user_name, team_id),
        "container": {"type": "view", "view_id": full_view.get("id")},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": full_view,
    }


def _view_for(
    view: Mapping[str, Any] | None,
    *,
    callback_id: str | None,
    state_values: Mapping[str, Any] | None,
    private_metadata: str | None,
    view_id: str | None,
    external_id: str | None,
    hash: str | None,
    team_id: str,
) -> dict[str, Any]:
    if view is None:
        if callback_id is None:
            raise ValueError("give callback_id (or a view to submit)")
        base = modal_view(
            view_id=view_id or "V123",
            callback_id=callback_id,
            private_metadata=private_metadata or "",
            external_id=external_id or "",
            hash=hash or "h1",
            team_id=team_id,
        )
    else:
        base = copy.deepcopy(dict(view))
        overrides = {
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "id": view_id,
            "external_id": external_id,
            "hash": hash,
        }
        base.update(_without_none(overrides))
    return _with_state(base, state_values)


def view_submission_payload(
    *,
    user_id: str,
    callback_id: str | None = None,
    state_values: Mapping[str, Any] | None = None,
    private_metadata: str | None = None,
    view_id: str | None = None,
    external_id: str | None = None,
    hash: str | None = None,
    view: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    response_urls: list[dict[str, str]] | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A modal submission. Either describe the view (callback_id, state_values, private_metadata, view_id ...)
    or pass the `view` (e.g. `fake.views[view_id]`) and override parts of it; `state_values` are merged into
    `view.state.values` (format `{block_id: {action_id: {"type": ..., "value"/"selected_option"/...}}}`)."""
    return {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _view_for(
            view,
            callback_id=callback_id,
            state_values=state_values,
            private_metadata=private_metadata,
            view_id=view_id,
            external_id=external_id,
            hash=hash,
            team_id=team_id,
        ),
        "response_urls": list(response_urls or []),
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_closed_payload(
    *,
    user_id: str,
    callback_id: str | None = None,
    state_values: Mapping[str, Any] | None = None,
    private_metadata: str | None = None,
    view_id: str | None = None,
    external_id: str | None = None,
    hash: str | None = None,
    view: Mapping[str, Any] | None = None,
    is_cleared: bool = False,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """The user closed a modal opened with `notify_on_close: true` (no trigger_id in this payload)."""
    return {
        "type": "view_closed",
        "team": _team(team_id),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _view_for(
            view,
            callback_id=callback_id,
            state_values=state_values,
            private_metadata=private_metadata,
            view_id=view_id,
            external_id=external_id,
            hash=hash,
            team_id=team_id,
        ),
        "is_cleared": is_cleared,
        "enterprise": None,
        "is_enterprise_install": False,
    }
