"""Where a failure becomes an answer, so no handler has to word it itself.

- `spawn_answering`: the slow work a listener hands off after its ack (a click, a command, a created
  request). When the database is down, the person hears NOTHING_RECORDED (ephemeral or `respond`); with
  `on_failure`, any other failure is told too, in the words `on_failure` finds (what happened, whether it
  counted), and logged: one line for an outage of Slack or DDM, a traceback for anything else.
- `on_listener_error`: bolt's error handler, for what goes wrong before the ack. A payload the bot can't use
  (BadPayload) gets a 400; the database being down gets, for a view submission, a field error with
  NOTHING_RECORDED and, for a command, an ephemeral one. Anything else is a bug: logged, and answered the same
  way with "something went wrong" (other kinds of request keep bolt's 500, which Slack shows as a failure).
- `failure_outcome`: for a decision (approve, reject, cancel, reviewed) whose work failed, whether it counted,
  read back from the store, and the sentence that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.errors import NOTHING_RECORDED, StoreUnavailable
from bot.ports import DdmUnreachable
from bot.restore.request import RequestState, RestoreRequest
from bot.runtime.supervisor import Supervisor
from bot.slack.blocks import escape, message_view
from bot.slack.payloads import BadPayload

log = logging.getLogger(__name__)
Tell = Callable[[str], Awaitable[Any]]
Explain = Callable[[Exception], Awaitable[str]]


def store_down(error: BaseException) -> bool:
    """The store could not record or read anything."""
    return isinstance(error, StoreUnavailable)


def spawn_answering(
    tasks: Supervisor, work: Coroutine[Any, Any, Any], *, name: str, tell: Tell, on_failure: Explain | None = None
) -> None:
    """Run `work` in the background; if the database is down, `tell` the person so. With `on_failure`, every
    other failure is told too, in the words it returns."""
    tasks.spawn(_answering(work, tell, name, on_failure), name=name)


async def _answering(work: Coroutine[Any, Any, Any], tell: Tell, name: str, on_failure: Explain | None) -> None:
    try:
        await work
    except Exception as exc:
        if store_down(exc):
            log.warning("%s: the database is unavailable (%s)", name, exc)
            text = NOTHING_RECORDED
        elif on_failure is None:
            raise
        else:
            if outage(exc):
                log.warning("%s failed: %s", name, what_failed(exc))
            else:
                log.error("%s failed", name, exc_info=exc)
            text = await on_failure(exc)
        try:
            await tell(text)
        except Exception:
            log.exception("%s: could not tell the person what happened", name)


def outage(error: BaseException) -> bool:
    """An expected failure of Slack or DDM (not a bug of ours)."""
    return isinstance(error, SlackApiError | aiohttp.ClientError | OSError | TimeoutError | DdmUnreachable)


def what_failed(error: BaseException) -> str:
    """What went wrong, as a clause for the person: Slack's method and answer, DDM's message, or our bug's kind."""
    if isinstance(error, SlackApiError):
        response = error.response
        try:
            code = response.get("error")
        except ValueError:  # a body that is no JSON
            code = None
        method = str(getattr(response, "api_url", "") or "").rstrip("/").rsplit("/", 1)[-1] or "a Slack call"
        answer = f"`{escape(code, 60)}`" if code else f"HTTP {getattr(response, 'status_code', '?')}"
        return f"Slack answered {answer} to `{escape(method, 60)}`"
    if isinstance(error, DdmUnreachable):
        return f"DDM could not be asked ({escape(error.message, 300)})"
    if isinstance(error, aiohttp.ClientError | OSError | TimeoutError):
        return f"Slack could not be reached ({type(error).__name__})"
    return f"something went wrong on my side ({type(error).__name__})"


# ---- a decision's failure, told to the person who made it ---------------------------------------------


@dataclass(frozen=True)
class Click:
    """One kind of decision a button (or the reject reason) makes, as the clicker is told about it."""

    noun: str  # "approval"
    button: str  # "Approve": what to press again
    counted: Callable[[RestoreRequest, str], bool]  # did this person's decision take effect?


APPROVE = Click("approval", "Approve", lambda request, user: user in request.approver_ids)
REJECT = Click(
    "rejection",
    "Reject",
    lambda request, user: request.state is RequestState.REJECTED and request.decided_by == user,
)
CANCEL = Click(
    "cancellation",
    "Cancel",
    lambda request, user: request.state is RequestState.CANCELLED and request.decided_by == user,
)
REVIEW = Click(
    "review", "Reviewed", lambda request, user: request.review is not None and request.review.reviewed_by == user
)
NUDGE = Click("nudge", "Nudge", lambda request, user: request.nudged_at is not None)


async def failure_outcome(
    read: Callable[[str], Awaitable[RestoreRequest | None]],
    kind: Click,
    request_id: str,
    user_id: str,
    error: Exception,
) -> tuple[bool | None, str]:
    """Whether the person's decision counted (None: the store can't tell) and what to tell them: what happened,
    and that. Read back from the store, never guessed."""
    cause = what_failed(error)
    try:
        request = await read(request_id)
    except Exception:
        return None, (
            f"⚠️ Your {kind.noun} of {request_id} ran into trouble: {cause}, and I can't read back whether it "
            "counted. Look at the card before pressing again."
        )
    if request is not None and kind.counted(request, user_id):
        return True, (
            f"⚠️ Your {kind.noun} of {request_id} counted (it is recorded), but what came after it failed: {cause}. "
            "The card and its thread show what happens next."
        )
    return False, (
        f"⚠️ Your {kind.noun} of {request_id} did not go through: {cause}. It did not count and nothing was "
        f"recorded; press {kind.button} again in a moment."
    )


def failure_answer(
    read: Callable[[str], Awaitable[RestoreRequest | None]], kind: Click, request_id: str, user_id: str
) -> Explain:
    """`failure_outcome`'s words, for `spawn_answering(on_failure=…)`."""

    async def explain(error: Exception) -> str:
        return (await failure_outcome(read, kind, request_id, user_id, error))[1]

    return explain


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
