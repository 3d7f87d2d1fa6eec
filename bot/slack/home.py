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

from collections.abc import Callable
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import RequestRepository, UserDirectory
from bot.restore.policy import Actor
from bot.restore.request import RequestState, RestoreRequest
from bot.slack.blocks.home import LIST_LIMIT, HomeLists, home_view
from bot.workflow.drills import DrillRunner
from bot.workflow.places import Place, Places

# How many recent requests are read to find the ones in this person's environments.
RECENT_READ = 50


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
        people = await self._concerned(request) & viewers
        if place is not None:
            people |= await self._seeing(place, viewers)
        await self._mark(people)

    async def mark_environment(self, environment: str) -> None:
        """A drill of `environment` changed (its last run, its targets left): the Home of whoever sees it is stale."""
        await self._mark(await self._of_environment(environment, set(await self.store.homes.viewers())))

    async def _of_environment(self, environment: str, viewers: set[str]) -> set[str]:
        place = next((p for p in self.places.all if p.environment.name == environment), None)
        return set() if place is None else await self._seeing(place, viewers)

    async def _seeing(self, place: Place, viewers: set[str]) -> set[str]:
        return {user for user in sorted(viewers) if _theirs(place, await self.directory.actor(user))}

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
