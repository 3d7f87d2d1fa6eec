"""Which bot-token scope each Web API method needs (as Slack documents it), and the scopes manifest.yml grants.

FakeSlack answers a call whose scope is not granted the way Slack does:
`{"ok": false, "error": "missing_scope", "needed": "channels:history", "provided": "chat:write,…"}`.
The conversations.* methods need the scope of the conversation's kind (channels:…, groups:…, im:…, mpim:…).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

Kind = Literal["public", "private", "im", "mpim"]
KINDS: tuple[Kind, ...] = ("public", "private", "im", "mpim")
_PREFIX: dict[Kind, str] = {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}

# Methods a bot token calls without any scope (apps.connections.open takes the app-level token instead).
NO_SCOPE = frozenset(
    {
        "api.test",
        "auth.test",
        "apps.connections.open",
        "chat.getPermalink",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
    }
)
FIXED_SCOPE = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "conversations.open": "im:write",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
}
# The conversation's kind decides: channels:history for a public channel, groups:history for a private one…
BY_KIND = {
    "conversations.history": "history",
    "conversations.replies": "history",
    "conversations.info": "read",
    "conversations.members": "read",
}

# The manifest at the root of a checkout (tests, `make demo`). An installed package has no manifest.yml: the
# playground then grants SHIPPED_SCOPES, which tests/unit/test_slack_scopes.py keeps equal to the manifest's.
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
SHIPPED_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "users:read",
        "usergroups:read",
        "channels:read",
        "groups:read",
        "channels:history",
        "groups:history",
        "im:history",
        "im:write",
    }
)


def scope_needed(method: str, kind: Kind = "public") -> str | None:
    """The scope `method` needs on a conversation of `kind`; None when it needs none. KeyError: unknown."""
    if method in NO_SCOPE:
        return None
    if method in FIXED_SCOPE:
        return FIXED_SCOPE[method]
    return f"{_PREFIX[kind]}:{BY_KIND[method]}"


def known(method: str) -> bool:
    return method in NO_SCOPE or method in FIXED_SCOPE or method in BY_KIND


def depends_on_kind(method: str) -> bool:
    return method in BY_KIND


def manifest_scopes(path: Path | None = None) -> frozenset[str]:
    """The bot scopes of the app manifest (`oauth_config.scopes.bot`); SHIPPED_SCOPES when there is none."""
    path = path or MANIFEST
    if not path.is_file():
        return SHIPPED_SCOPES
    return bot_scopes_of(path.read_text(encoding="utf-8"))


_COMMENT = re.compile(r"(^|\s)#.*$")


def bot_scopes_of(manifest: str) -> frozenset[str]:
    """`oauth_config.scopes.bot` of a manifest's YAML text: block style, as manifest.yml is written (the package
    reads no YAML otherwise, so it has no YAML library)."""
    keys: list[tuple[int, str]] = []  # the open mappings: (indent, key)
    found: set[str] = set()
    for raw in manifest.splitlines():
        line = _COMMENT.sub("", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if body.startswith("- "):
            while keys and keys[-1][0] > indent:
                keys.pop()
            if [k for _, k in keys] == ["oauth_config", "scopes", "bot"]:
                found.add(body[2:].strip().strip("\"'"))
            continue
        while keys and keys[-1][0] >= indent:
            keys.pop()
        if body.endswith(":"):
            keys.append((indent, body[:-1].strip()))
    return frozenset(found)
