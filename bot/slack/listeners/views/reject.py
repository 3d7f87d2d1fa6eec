"""The reject reason submitted: the reject happens now, or the refusal is shown on the reason field; so is a
failure (Slack or DDM down, a bug), with whether the rejection counted."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.errors import Refusal
from bot.restore.ids import REQUEST_ID_RE
from bot.slack import payloads
from bot.slack.answers import REJECT, failure_outcome, outage, store_down, what_failed
from bot.slack.blocks import REASON_BLOCK, message_view, out_of_date_view
from bot.slack.blocks.modal import REASON_LIMIT
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


async def reject_submitted(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    view = payloads.view(body)
    request_id = str(view.get("private_metadata") or "")
    user_id = payloads.user_id(body)
    if not REQUEST_ID_RE.fullmatch(request_id):
        await ack(response_action="update", view=out_of_date_view())
        return
    reason = payloads.text_value(payloads.state_values(view), REASON_BLOCK)
    if not reason:
        await ack(response_action="errors", errors={REASON_BLOCK: "Say why, so the requester can fix it."})
        return
    if len(reason) > REASON_LIMIT:
        await ack(
            response_action="errors",
            errors={REASON_BLOCK: f"Keep the reason to {REASON_LIMIT} characters (this one has {len(reason)})."},
        )
        return
    try:
        await deps.desk.reject(request_id, user_id, reason)
    except Refusal as refusal:
        await ack(response_action="errors", errors={REASON_BLOCK: refusal.message})
        return
    except Exception as exc:
        if store_down(exc):
            raise  # answered by bot.slack.answers.on_listener_error: nothing was recorded
        if outage(exc):
            log.warning("reject of %s failed: %s", request_id, what_failed(exc))
        else:
            log.error("reject of %s failed", request_id, exc_info=exc)
        # Told on the reason field, which keeps what they wrote for another try; the form says so when it counted.
        counted, told = await failure_outcome(deps.desk.find, REJECT, request_id, user_id, exc)
        if counted:
            await ack(response_action="update", view=message_view("Rejected", told))
        else:
            await ack(response_action="errors", errors={REASON_BLOCK: told})
        return
    await ack()
