"""The one way a string from DDM or from people gets into a Slack message.

Two kinds of Slack text, two functions:
- `escape` for mrkdwn (cards, thread messages, ephemerals, context lines): Slack reads `&`, `<` and `>` as
  markup there (`<!channel>`, `<@U…>`, `<https://…|…>`), so they become entities and render as the characters
  they are. Whitespace runs (newlines included) collapse to one space, so a name or a reason cannot start a line
  of its own that looks like a field of the card; a backtick becomes `'` so text cannot close the code span it is
  shown in.
- `plain` for plain_text (labels, option texts, titles, placeholders): Slack shows it literally, so entities
  would be shown as `&lt;`; it is only flattened and clipped.

Strings of our own making (ids we mint, mentions of Slack user ids, dates) are not escaped: that is how their
markup keeps working.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
# Markup our own sentences use: a user, a channel, a user group, a date. Nothing that pings everyone or links.
_OURS = re.compile(r"<(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+(?:\|[^<>]*)?|!subteam\^[A-Z0-9]+(?:\|[^<>]*)?|!date\^[^<>]*)>")
_ANY = re.compile(r"<[^<>]*>?")


def escape(text: object, limit: int | None = None) -> str:
    """`text` for mrkdwn, at most `limit` characters; an entity is never cut in half."""
    raw = " ".join(str(text).split())
    out = _entities(raw)
    if limit is None or len(out) <= limit:
        return out
    pieces: list[str] = []
    used = 0
    for char in raw:
        piece = _entities(char)
        if used + len(piece) > limit - 1:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + ELLIPSIS


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def guard(text: str) -> str:
    """A finished mrkdwn sentence from elsewhere (a workflow refusal that may quote DDM): keeps mentions of users,
    channels and groups and dates, turns any other markup (`<!channel>`, links) into text. For text we compose,
    escape the pieces instead."""
    return _ANY.sub(lambda m: m.group(0) if _OURS.fullmatch(m.group(0)) else _entities(m.group(0)), text)


def plain(text: object, limit: int) -> str:
    """`text` for a plain_text object: one line, at most `limit` characters, shown exactly as written."""
    return clip(" ".join(str(text).split()), limit)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters. For text that is already mrkdwn use `escape(..., limit)` on its parts."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


DRILL_ACTOR = "drill:"


def mention(user_id: str) -> str:
    """A Slack user id from Slack itself (never from typed text); a drill's actor ("drill:<name>", from the
    environments file) by its name."""
    if user_id.startswith(DRILL_ACTOR):
        return f"🧪 drill _{escape(user_id.removeprefix(DRILL_ACTOR), 60)}_"
    return f"<@{user_id}>"


def slack_date(epoch_seconds: int, fmt: str, fallback: str) -> str:
    """Rendered by Slack in each viewer's own time zone."""
    return f"<!date^{epoch_seconds}^{fmt}|{fallback}>"
