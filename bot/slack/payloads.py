"""Reading what Slack sent. Anything the bot can't use raises BadPayload, which bolt answers with a 400
(bot.slack.answers.on_listener_error) instead of a 500."""

from __future__ import annotations

from typing import Any

from bot.errors import DependencyError
from bot.restore.ids import REQUEST_ID_RE


class BadPayload(DependencyError):
    """A request the bot can't act on: a field missing, of the wrong kind, or naming nothing that can exist."""


def user_id(body: dict[str, Any]) -> str:
    user = body.get("user")
    value = user.get("id") if isinstance(user, dict) else body.get("user_id")
    return _id(value, "user")


def action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadPayload("no action in the payload")
    return actions[0]


def request_id_of_button(body: dict[str, Any]) -> str:
    """The request a card button names. Only a well-formed request id is taken (a button's value is whatever the
    client sends)."""
    value = action(body).get("value")
    if not isinstance(value, str) or not REQUEST_ID_RE.fullmatch(value):
        raise BadPayload("the button does not name a request")
    return value


def channel_of_action(body: dict[str, Any]) -> str:
    """The channel of a click in a message; "" for a click in the App Home (a view: no channel, answers are DMs)."""
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    home = body.get("view") or {}
    if (
        not channel
        and isinstance(container, dict)
        and container.get("type") == "view"
        and isinstance(home, dict)
        and home.get("type") == "home"
    ):
        return ""
    value = (channel.get("id") if isinstance(channel, dict) else None) or (
        container.get("channel_id") if isinstance(container, dict) else None
    )
    return _id(value, "channel")


def view(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("view")
    if not isinstance(value, dict):
        raise BadPayload("no view in the payload")
    return value


def state_values(view_: dict[str, Any]) -> dict[str, Any]:
    state = view_.get("state") or {}
    values = state.get("values") if isinstance(state, dict) else None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise BadPayload("the view's state is not an object")
    return values


def element(values: dict[str, Any], block: str, action_id: str | None = None) -> dict[str, Any]:
    """The state of one input element (empty when absent)."""
    chosen = values.get(block) or {}
    if not isinstance(chosen, dict):
        raise BadPayload(f"the state of {block} is not an object")
    found = chosen.get(action_id or block) or {}
    if not isinstance(found, dict):
        raise BadPayload(f"the state of {block} is not an object")
    return found


def text_value(values: dict[str, Any], block: str, action_id: str | None = None) -> str:
    value = element(values, block, action_id).get("value")
    if value is not None and not isinstance(value, str):
        raise BadPayload(f"the value of {block} is not text")
    return (value or "").strip()


def selected(values: dict[str, Any], block: str, action_id: str | None = None) -> tuple[str, str] | None:
    """(value, text) of a select's chosen option in a view's state, or None."""
    return chosen_option(element(values, block, action_id))


def chosen_option(element_state: dict[str, Any]) -> tuple[str, str] | None:
    """(value, text) of the option a select element (its state, or a block action) carries, or None."""
    chosen = element_state.get("selected_option")
    if not chosen:
        return None
    if not isinstance(chosen, dict):
        raise BadPayload("the chosen option is not an object")
    value = chosen.get("value")
    text = (chosen.get("text") or {}).get("text") if isinstance(chosen.get("text"), dict) else None
    if not isinstance(value, str) or not value:
        raise BadPayload("the chosen option has no value")
    return value, text if isinstance(text, str) else value


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise BadPayload(f"no {what} id in the payload")
    return value
