"""Finding requests for people (`/ddm-restore list`, `status` and `history`): only what may be shown in the channel
asked from. A private channel's requests are not for everyone (but `history`, the record of an environment, shows
all of its channels'), and another environment's are not told of at all."""

from __future__ import annotations

from bot.ports import RequestDesk, RequestPage
from bot.restore.request import RestoreRequest
from bot.workflow.places import Place, Places


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


async def history_here(desk: RequestDesk, place: Place, places: Places, days: int, page: int) -> RequestPage:
    """Page `page` of the requests made in the last `days` days in `place`'s environment (any of its channels; in
    the settings' one environment, any channel), leaving out those its channels made while in another one."""
    channels = place.environment.channel_ids or None
    found = await desk.history(days, channel_ids=channels, page=page)
    mine = [r for r in found.requests if places.for_plan(r.plan) in (place, None)]
    return RequestPage(mine, found.total)
