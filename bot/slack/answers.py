"""The two places where a failure becomes an answer, so no handler has to catch it itself.

- `spawn_answering`: the slow work a listener hands off after its ack (a click, a command, a created
  request). When the database is down, the person hears NOTHING_RECORDED (ephemeral or `respond`).
- `on_listener_error`: bolt's error handler, for what goes wrong before the ack. A payload the bot can't use
  (BadPayload) gets a 400; the database being down gets, for a view submission, a field error with
  NOTHING_RECORDED and, for a command, an ephemeral one. Anything else is a bug: logged, and answered the same
  way with "something went wrong" (other kinds of request keep bolt's 500, which Slack shows as a failure).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.response import BoltResponse

from bot.errors import NOTHING_RECORDED, StoreUnavailable
from bot.runtime.supervisor import Supervisor
from bot.slack.blocks import message_view
from bot.slack.payloads import BadPayload

log = logging.getLogger(__name__)
Tell = Callable[[str], Awaitable[Any]]


def store_down(error: BaseException) -> bool:
    """The store could not record or read anything."""
    return isinstance(error, StoreUnavailable)


def spawn_answering(tasks: Supervisor, work: Coroutine[Any, Any, Any], *, name: str, tell: Tell) -> None:
    """Run `work` in the background; if the database is down, `tell` the person so."""
    tasks.spawn(_answering(work, tell, name), name=name)


async def _answering(work: Coroutine[Any, Any, Any], tell: Tell, name: str) -> None:
    try:
        await work
    except Exception as exc:
        if not store_down(exc):
            raise
        log.warning("%s: the database is unavailable (%s)", name, exc)
        try:
            await tell(NOTHING_RECORDED)
        except Exception:
            log.exception("%s: could not tell the person that nothing was recorded", name)


async def on_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
    if isinstance(error, BadPayload):
        log.info("refused a payload: %s", error)
        return BoltResponse(status=400, body=f"bad request: {error}")
    if store_down(error):
        log.warning("the database is unavailable while answering Slack (%s)", error)
        return _answer(body, NOTHING_RECORDED)
    log.error("listener failed", exc_info=error)
    # A bug of ours: the person still hears something, where Slack can show it (a form, a command).
    return _answer(body, f"Something went wrong on my side ({type(error).__name__}). Please try again.", bug=True)


def _answer(body: Any, text: str, *, bug: bool = False) -> BoltResponse | None:
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "view_submission":
        block = _first_input_block(body.get("view") or {})
        if block is None:
            view = message_view("Try again later", text).to_dict()
            return BoltResponse(status=200, body={"response_action": "update", "view": view})
        return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
    if isinstance(body, dict) and "command" in body:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    return None if bug else BoltResponse(status=200, body="")


def _first_input_block(view: dict[str, Any]) -> str | None:
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and isinstance(block.get("block_id"), str):
            return str(block["block_id"])
    values = (view.get("state") or {}).get("values") or {}
    return next((str(key) for key in values), None) if isinstance(values, dict) else None
