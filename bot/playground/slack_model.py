"""FakeSlack's data: users, recorded calls, channels, the error a Web API method answers with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.errors import PersonError

JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "user_auth_blocks")
"""Arguments that slack_sdk sends as JSON strings when it form-encodes (or query-encodes) a call."""

API_METHODS = (
    "api.test",
    "auth.test",
    "apps.connections.open",
    "views.open",
    "views.push",
    "views.update",
    "views.publish",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.getPermalink",
    "users.info",
    "usergroups.users.list",
    "conversations.info",
    "conversations.members",
    "conversations.open",
    "conversations.replies",
    "conversations.history",
)

_T = TypeVar("_T")
_TRIGGER_MARK = "fake"
_CANCEL = {"type": "plain_text", "text": "Cancel", "emoji": True}


@dataclass
class FakeUser:
    id: str
    name: str
    tz: str = "UTC"
    tz_offset: int = 0
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_bot: bool = False
    deleted: bool = False
    real_name: str | None = None


@dataclass
class RecordedCall:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() when the request arrived
    error: str | None = None  # the `error` the fake answered with; None for ok=true
    status: int = 200  # the HTTP status the fake answered with
    answered: bool = False  # True once the fake has answered (and updated messages/views)
    dropped: bool = False  # the connection was cut instead of answering (see FakeSlack.drop_next)


@dataclass
class _Failure:
    error: str
    count: int
    status: int
    retry_after: int | None
    extra: dict[str, Any]


@dataclass
class _Drop:
    count: int
    when: Callable[[dict[str, Any]], bool]
    after_processing: bool


@dataclass
class _Channel:
    id: str
    name: str
    is_member: bool = True
    is_im: bool = False
    is_private: bool = False
    is_archived: bool = False
    user: str | None = None  # the other party of an IM
    members: list[str] = field(default_factory=list)  # people (the bot joins when is_member)


class SlackError(PersonError):
    """Raised inside a method handler: the fake answers `{"ok": false, "error": error, **extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid(*messages: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _text_len(obj: Any) -> int:
    if isinstance(obj, dict):
        return len(str(obj.get("text", "")))
    return 0


def _action_ids_by_block(blocks: Iterable[Any]) -> dict[str, set[str]]:
    """block_id -> action_ids of the interactive elements in it (input element, accessory, actions elements)."""
    result: dict[str, set[str]] = {}
    for block in blocks:
        if not isinstance(block, dict) or not block.get("block_id"):
            continue
        elements: list[Any] = []
        for key in ("element", "accessory"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        if isinstance(block.get("elements"), list):
            elements.extend(block["elements"])
        ids = {str(e["action_id"]) for e in elements if isinstance(e, dict) and e.get("action_id")}
        result[str(block["block_id"])] = ids
    return result
