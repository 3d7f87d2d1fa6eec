"""Which failures are expected outages (the database, DDM or Slack away or slow) and how to say so in one line.

An outage is logged as one line per failure, with its cause; a traceback is kept for what is not one: a bug.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.errors import StoreUnavailable
from bot.huawei.errors import HuaweiError, InvalidInput
from bot.ports import DdmUnreachable

MAX_CAUSE_CHARS = 300


def outage_cause(exc: BaseException) -> str | None:
    """The cause of an expected outage in a few words, or None when `exc` is not one (then it is a bug)."""
    if isinstance(exc, StoreUnavailable):
        return _short(f"the database is unreachable ({exc.detail})")
    if isinstance(exc, DdmUnreachable):
        return _short(f"DDM is unreachable: {exc.message}")
    if isinstance(exc, HuaweiError) and not isinstance(exc, InvalidInput):  # bad input of ours is a bug
        return _short(f"DDM is unreachable: {exc}")
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if exc.response is not None else None
        return _short(f"Slack answered {error or 'an error'}")
    if isinstance(exc, TimeoutError):
        return "no answer in time (TimeoutError)"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return _short(f"a connection failed ({type(exc).__name__}: {exc})")
    return None


def _short(text: str) -> str:
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 1] + "…"
