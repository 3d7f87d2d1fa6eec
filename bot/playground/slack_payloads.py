"""Incoming Slack requests, built and signed exactly as Slack sends them to an app.

HTTP mode: every builder returns `(body: bytes, headers: dict[str, str])`, ready to POST to `/slack/events`:
- slash commands are form-encoded fields (`command=%2Fddm-restore&text=...`);
- interactivity (block_actions, block_suggestion, view_submission, view_closed) is ONE form field
  `payload=<url-encoded JSON>`;
- headers: `Content-Type: application/x-www-form-urlencoded`, `X-Slack-Request-Timestamp`,
  `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")`.

Socket Mode: the `*_payload` functions return the same request as a dict, which is what a Socket Mode envelope
carries in `payload` (slash commands: the form fields, all strings; interactivity: the JSON payload itself).

Shapes follow Slack's documented interaction payloads and bolt-python's own test fixtures: bolt reads the user
from `user.id` (commands: `user_id`), the channel from `channel.id` (commands: `channel_id`), `trigger_id`,
`actions[0].action_id`/`block_id`, `view.callback_id`, and for `block_suggestion` the top-level
`action_id`/`block_id`/`value`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.playground.payload_shapes import (
    APP_ID,
    BOT_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
    action_ts,
    block_actions_payload,
    block_suggestion_payload,
    datetimepicker,
    external_select,
    modal_view,
    new_trigger_id,
    plain_text_input,
    slash_command_payload,
    static_select,
    view_closed_payload,
    view_submission_payload,
)

FORM = "application/x-www-form-urlencoded"


def signed(secret: str, body: bytes, *, timestamp: int | None = None, content_type: str = FORM) -> dict[str, str]:
    """Headers Slack sends with `body`, signed with `secret` (timestamp: now unless given)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def forged(headers: Mapping[str, str]) -> dict[str, str]:
    """The same headers with a well-formed but wrong signature (same length, one hex digit changed)."""
    out = dict(headers)
    signature = out["X-Slack-Signature"]
    last = "0" if signature[-1] != "0" else "1"
    out["X-Slack-Signature"] = signature[:-1] + last
    return out


def forged_signature(body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers signed with a secret the app does not know."""
    return signed("not-the-signing-secret", body, timestamp=timestamp)


def form_body(fields: Mapping[str, str]) -> bytes:
    return urlencode(fields).encode("utf-8")


def interaction_body(payload: Mapping[str, Any]) -> bytes:
    """`payload=<JSON>`, form-encoded, as Slack posts interactivity."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode("utf-8")


def _signed_form(secret: str, fields: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    body = form_body(fields)
    return body, signed(secret, body)


def _signed_interaction(secret: str, payload: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = interaction_body(payload)
    return body, signed(secret, body)


def slash_command(
    secret: str,
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
) -> tuple[bytes, dict[str, str]]:
    return _signed_form(
        secret,
        slash_command_payload(
            command=command,
            text=text,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
            team_id=team_id,
            trigger_id=trigger_id,
            response_url=response_url,
        ),
    )


def block_actions(
    secret: str,
    *,
    user_id: str,
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
    channel_id: str | None = None,
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
) -> tuple[bytes, dict[str, str]]:
    return _signed_interaction(
        secret,
        block_actions_payload(
            user_id=user_id,
            action_id=action_id,
            value=value,
            block_id=block_id,
            channel_id=channel_id,
            message_ts=message_ts,
            message=message,
            view=view,
            selected_option=selected_option,
            selected_date_time=selected_date_time,
            trigger_id=trigger_id,
            response_url=response_url,
            action_type=action_type,
            text=text,
            state_values=state_values,
            user_name=user_name,
            team_id=team_id,
        ),
    )


def block_suggestion(
    secret: str,
    *,
    user_id: str,
    action_id: str,
    block_id: str,
    value: str,
    view: Mapping[str, Any],
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> tuple[bytes, dict[str, str]]:
    return _signed_interaction(
        secret,
        block_suggestion_payload(
            user_id=user_id,
            action_id=action_id,
            block_id=block_id,
            value=value,
            view=view,
            user_name=user_name,
            team_id=team_id,
        ),
    )


def view_submission(
    secret: str,
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
) -> tuple[bytes, dict[str, str]]:
    return _signed_interaction(
        secret,
        view_submission_payload(
            user_id=user_id,
            callback_id=callback_id,
            state_values=state_values,
            private_metadata=private_metadata,
            view_id=view_id,
            external_id=external_id,
            hash=hash,
            view=view,
            trigger_id=trigger_id,
            response_urls=response_urls,
            user_name=user_name,
            team_id=team_id,
        ),
    )


def view_closed(
    secret: str,
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
) -> tuple[bytes, dict[str, str]]:
    return _signed_interaction(
        secret,
        view_closed_payload(
            user_id=user_id,
            callback_id=callback_id,
            state_values=state_values,
            private_metadata=private_metadata,
            view_id=view_id,
            external_id=external_id,
            hash=hash,
            view=view,
            is_cleared=is_cleared,
            user_name=user_name,
            team_id=team_id,
        ),
    )


__all__ = [
    "APP_ID",
    "BOT_ID",
    "FORM",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "VERIFICATION_TOKEN",
    "action_ts",
    "block_actions",
    "block_actions_payload",
    "block_suggestion",
    "block_suggestion_payload",
    "datetimepicker",
    "external_select",
    "forged",
    "forged_signature",
    "form_body",
    "interaction_body",
    "modal_view",
    "new_trigger_id",
    "plain_text_input",
    "signed",
    "slash_command",
    "slash_command_payload",
    "static_select",
    "view_closed",
    "view_closed_payload",
    "view_submission",
    "view_submission_payload",
]


def event_callback(secret: str, event: Mapping[str, Any], *, team_id: str = TEAM_ID) -> tuple[bytes, dict[str, str]]:
    """An Events API delivery (JSON, signed) of `event`."""
    now = time.time()
    body = json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": dict(event),
            "type": "event_callback",
            "event_id": f"Ev{int(now * 1_000_000):014d}"[:16],
            "event_time": int(now),
        },
        separators=(",", ":"),
    ).encode("utf-8")
    return body, signed(secret, body, content_type="application/json")


def app_home_opened(secret: str, *, user_id: str, tab: str = "home") -> tuple[bytes, dict[str, str]]:
    """The person opened the app's Home tab (or its Messages tab: `tab`)."""
    return event_callback(
        secret,
        {"type": "app_home_opened", "user": user_id, "channel": f"D{user_id[1:]}", "tab": tab, "event_ts": action_ts()},
    )
