"""The App Home: drawn for one person from the store, published with views.publish (no scope needed).

Published at once when the person opens the tab (app_home_opened), which records them in the store as one who
has opened it. After a change, the Home of every such person it concerns goes stale in the store, on whichever
replica the tab was opened: its requester, the approvers of its stages, whom it was escalated to (marked by the
announcer once it has delivered the change's notices: every change writes outbox rows, so Home follows the
outbox), and everyone whose environment it is (their "Recent" list shows it; and a drill's new status or targets
left, their Drills section).
Each stale Home is then published once, by whichever replica claims it (bot.slack.home_refresh), however many
changes were marked meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import RequestRepository, UserDirectory
from bot.restore.policy import Actor
from bot.restore.request import RequestState, RestoreRequest
from bot.slack.blocks.home import LIST_LIMIT, HomeLists, home_view
from bot.workflow.drills import DrillRunner
from bot.workflow.places import Place, Places

log = logging.getLogger(__name__)
# How many recent requests are read to find the ones in this person's environments.
RECENT_READ = 50
# Finding whose Home a change concerns (users.info per viewer, cached by the directory): so many at once, and all
# within so long (inside the announcer's lease on the rows it delivers; past it, every viewer is marked).
LOOKUPS_AT_ONCE = 8
MARK_SECONDS = 10.0


class HomePublisher:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        store: RequestRepository,
        places: Places,
        directory: UserDirectory,
        clock: Callable[[], datetime],
        drills: DrillRunner | None = None,
        on_stale: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.store = store
        self.places = places
        self.directory = directory
        self.clock = clock
        self.drills = drills
        self.on_stale = on_stale  # wakes this replica's publisher (bot.slack.home_refresh)

    async def lists_for(self, user_id: str) -> HomeLists:
        """What this person's Home shows: the same policy as a click decides who may approve what."""
        actor, now = await self.directory.actor(user_id), self.clock()
        pending = await self.store.in_states([RequestState.PENDING])
        waiting = [r for r in pending if self.places.policy_of(r).can_approve(actor, r, now) is None]
        mine = await self.store.recent(LIST_LIMIT, requester_id=user_id)
        recent: list[RestoreRequest] = []
        for request in await self.store.recent(RECENT_READ):
            place = self.places.for_plan(request.plan) or self.places.for_channel(request.channel_id)
            if place is None:
                continue
            policy = place.policy
            if policy.is_approver(actor) or policy.can_request(actor, request.channel_id) is None:
                recent.append(request)
            if len(recent) >= LIST_LIMIT:
                break
        # Their environments' drills, read from the store (targets left as the drill loop last saw them): no DDM
        # call holds the publish up.
        theirs = {p.environment.name for p in self.places.all if p.environment.drills and _theirs(p, actor)}
        drills = await self.drills.statuses(theirs) if self.drills is not None and theirs else []
        return HomeLists(waiting=waiting, mine=mine, recent=recent, drills=drills)

    async def opened(self, user_id: str) -> None:
        await self.store.homes.opened(user_id, now=self.clock())
        await self.publish(user_id)

    async def publish(self, user_id: str) -> None:
        view = home_view(await self.lists_for(user_id))
        await self.client.views_publish(user_id=user_id, view=view.to_dict())

    async def mark_for(self, request: RestoreRequest) -> None:
        """The Home of everyone `request` concerns who has opened it (on any replica) is stale: its people, and
        everyone whose environment it is (their "Recent in your environments" lists it)."""
        viewers = set(await self.store.homes.viewers())
        if not viewers:
            return  # no Slack calls to learn who it concerns
        place = self.places.for_plan(request.plan) or self.places.for_channel(request.channel_id)

        async def people() -> set[str]:
            found = await self._concerned(request) & viewers
            return found | await self._seeing(place, viewers) if place is not None else found

        await self._mark(await self._within_bound(people(), viewers, f"after {request.id}"))

    async def mark_environment(self, environment: str) -> None:
        """A drill of `environment` changed (its last run, its targets left): the Home of whoever sees it is stale."""
        viewers = set(await self.store.homes.viewers())
        place = next((p for p in self.places.all if p.environment.name == environment), None)
        if place is not None and viewers:
            await self._mark(await self._within_bound(self._seeing(place, viewers), viewers, f"of {environment}"))

    async def _within_bound(self, finding: Awaitable[set[str]], viewers: set[str], what: str) -> set[str]:
        """Whom a change concerns, found within MARK_SECONDS (the announcer marks before its rows are done); when
        Slack can't tell in time, every viewer: a spare publish is cheap, a Home left stale is not."""
        try:
            async with asyncio.timeout(MARK_SECONDS):
                return await finding
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("whose App Home changes %s is unknown (%s): every one opened is redrawn", what, error)
            return viewers

    async def _seeing(self, place: Place, viewers: set[str]) -> set[str]:
        """The viewers whose environment `place` is, looked up a few at a time; one Slack can't tell of is kept."""
        gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

        async def sees(user: str) -> bool:
            async with gate:
                try:
                    return _theirs(place, await self.directory.actor(user))
                except (SlackApiError, aiohttp.ClientError, OSError):
                    return True

        ordered = sorted(viewers)
        return {user for user, yes in zip(ordered, await asyncio.gather(*map(sees, ordered)), strict=True) if yes}

    async def _mark(self, people: set[str]) -> None:
        if people:
            await self.store.homes.mark_stale(people, now=self.clock())
            self.on_stale()

    async def _concerned(self, request: RestoreRequest) -> set[str]:
        policy = self.places.policy_of(request)
        people = {request.requester_id, *request.approver_ids}
        groups: set[str] = set()
        for stage in policy.stage_list:
            people |= stage.approver_user_ids
            groups |= stage.approver_group_ids
        if (escalated := request.escalated_to) is not None:
            people |= escalated[0]
            groups |= escalated[1]
        for group in sorted(groups):
            answer = await self.client.usergroups_users_list(usergroup=group)
            people.update(str(user) for user in answer.get("users") or [])
        return people


def _theirs(place: Place, actor: Actor) -> bool:
    """Their environment: they approve in it, or may request in one of its channels (as for the recent list)."""
    policy = place.policy
    channels = place.environment.channel_ids or policy.allowed_channel_ids or {""}
    return policy.is_approver(actor) or any(policy.can_request(actor, channel) is None for channel in channels)
