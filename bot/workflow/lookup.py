"""Finding requests for people (`/ddm-restore list` and `status`): only what may be shown in the channel asked
from. A private channel's requests are not for everyone, and another environment's are not told of at all."""

from __future__ import annotations

from bot.ports import RequestDesk
from bot.restore.request import RestoreRequest
from bot.workflow.places import Places


async def requests_here(desk: RequestDesk, places: Places, channel_id: str, limit: int = 10) -> list[RestoreRequest]:
    """The newest requests made in this channel while it was in its present environment."""
    place = places.for_channel(channel_id)
    return [r for r in await desk.recent(limit, channel_id=channel_id) if places.for_plan(r.plan) in (place, None)]


async def request_here(
    desk: RequestDesk, places: Places, reference: str, *, user_id: str, channel_id: str
) -> RestoreRequest | None:
    """The request `reference` names (its id or DDM job id), if it may be shown to this person here: it is of this
    channel's environment, and was made in this channel or by them."""
    request = await desk.find(reference)
    if request is None or places.for_plan(request.plan) not in (places.for_channel(channel_id), None):
        return None
    if request.channel_id != channel_id and request.requester_id != user_id:
        return None
    return request
