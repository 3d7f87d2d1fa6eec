"""The reject reason submitted: the reject happens now, or the refusal is shown on the reason field."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.errors import Refusal
from bot.restore.ids import REQUEST_ID_RE
from bot.slack import payloads
from bot.slack.blocks import REASON_BLOCK, out_of_date_view
from bot.slack.blocks.modal import REASON_LIMIT
from bot.slack.deps import Deps


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
    await ack()
