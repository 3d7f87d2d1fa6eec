"""Drills: at each slot of its schedule a drill makes a restore request to the first usable target of its pool; it
goes through the normal lifecycle (card, submit, follow, verify) and its thread ends with the drill report.

Each slot is claimed once across replicas and restarts (the store's row per drill and slot, claimed in the change
that makes the request); what to claim is bot.restore.drills'. A slot with no request (missed, no usable target, not
plannable) is told to the channel by the replica that claimed it, and a used-up pool once until a target is back.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.errors import DependencyError
from bot.ports import RequestRepository, SlotTaken, TargetBusy
from bot.restore.checks import named_by_ddm
from bot.restore.drills import (
    Drill,
    DrillStatus,
    Outcome,
    SlotClaim,
    pick_target,
    plan_slots,
    restore_ms,
    targets_left,
    tell_no_target,
)
from bot.restore.facts import Instance, TargetCandidate
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.timeparse import epoch_ms_of as ms
from bot.restore.timeparse import utc_text
from bot.workflow.live import check_live
from bot.workflow.places import Place, Places

log = logging.getLogger(__name__)

STATUS_SLOTS = 50  # how far back a drill's last success is looked for
Tell = Callable[[str, str], Awaitable[object]]  # (channel id, our own mrkdwn)


@dataclass(frozen=True)
class DrillStarted:
    request: RestoreRequest


@dataclass(frozen=True)
class DrillNotStarted:
    outcome: str  # bot.restore.drills.Outcome
    message: str
    recorded: bool = False  # this call claimed the slot with the outcome


DrillResult = DrillStarted | DrillNotStarted


class DrillRunner:
    def __init__(
        self,
        *,
        store: RequestRepository,
        places: Places,
        submit: Callable[[RestoreRequest], Coroutine[Any, Any, object]],
        tell: Tell,
        clock: Callable[[], datetime],
        interval: float,
        spawn: Callable[[Coroutine[Any, Any, Any], str], Awaitable[None] | object],
        rng: random.Random | None = None,
        counted: Callable[[str, str], object] = lambda drill, outcome: None,
        changed: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.store = store
        self.places = places
        self._submit = submit
        self._tell = tell
        self.clock = clock
        self.interval = interval
        self._spawn = spawn
        self._rng = rng or random.Random()
        self._counted = counted  # (drill, outcome) of each slot this replica claimed (the metrics count them)
        # Told the environment whose drills' status changed (a slot recorded, with the targets left): the App Home.
        self._changed = changed

    @property
    def drills(self) -> list[tuple[Place, Drill]]:
        return [(place, drill) for place in self.places.all for drill in place.environment.drills]

    def named(self, name: str) -> tuple[Place, Drill] | None:
        return next(((p, d) for p, d in self.drills if d.name.casefold() == name.strip().casefold()), None)

    async def step(self) -> float:
        """Claim and run each drill's due slot; returns the delay until the next slot (at most the interval)."""
        now = self.clock()
        for place, drill in self.drills:
            try:
                await self._due(place, drill, now)
            except DependencyError as exc:  # DDM or the database: the slot stays unclaimed, tried again next step
                log.warning("drill %r: %s; trying again", drill.name, exc)
        upcoming = [d.cron.next_after(now) for _, d in self.drills]
        delay = self.interval
        for at in upcoming:
            if at is not None:
                delay = min(delay, max(0.05, (at - self.clock()).total_seconds() + 0.05))
        return delay

    async def _due(self, place: Place, drill: Drill, now: datetime) -> None:
        latest = await self.store.drills.latest(drill.name)
        plan = plan_slots(drill.cron, now, last=latest.slot if latest else None, window=drill.window)
        if plan.missed is not None:
            count = plan.missed_count
            detail = f"{count} slot(s) missed, the last at {utc_text(ms(plan.missed))}"
            if await self.store.drills.record(drill.name, plan.missed, Outcome.MISSED, now=now, detail=detail):
                self._counted(drill.name, Outcome.MISSED)
                await self._report(drill)
                await self._say(
                    drill,
                    f"🧪 Drill *{drill.name}*: {detail} — the bot was not running within its window "
                    f"({_minutes(drill.window)}). The next slot runs as scheduled.",
                )
        if plan.run is not None:
            result = await self.run(place, drill, slot=plan.run, previous=latest)
            if isinstance(result, DrillStarted):
                log.info("drill %r: %s for the slot %s", drill.name, result.request.id, plan.run.isoformat())

    async def run(
        self,
        place: Place,
        drill: Drill,
        *,
        slot: datetime,
        requester_id: str | None = None,
        previous: Any = None,
    ) -> DrillResult:
        """Make the drill's request for `slot` (None from a person: `requester_id`'s, with the environment's
        approval unless the drill is auto). What could not be started is recorded and told."""
        result = await self._run(place, drill, slot=slot, requester_id=requester_id, previous=previous)
        if isinstance(result, DrillStarted) or result.recorded:
            await self._report(drill)
        return result

    async def _run(
        self, place: Place, drill: Drill, *, slot: datetime, requester_id: str | None, previous: Any
    ) -> DrillResult:
        now = self.clock()
        ddm = place.ddm
        source = _find(await ddm.instances(), drill.source)
        if source is None:
            return await self._not_started(drill, slot, Outcome.FAILED, f"no DDM instance is named {drill.source!r}")
        candidates = [t for t in await ddm.targets(source.id) if t.id in drill.targets or t.name in drill.targets]
        # A target an unfinished request holds (a drill still running on it) is not DDM's to count yet.
        busy = {t.id for t in candidates if await self.store.active_for_target(t.id) is not None}
        free = [t if t.id not in busy else _busy(t) for t in candidates]
        left = targets_left(drill.targets, free)
        target = pick_target(drill.targets, free)
        if target is None:
            return await self._not_started(
                drill,
                slot,
                Outcome.NO_TARGET,
                f"the target pool is used up: DDM lists none of {', '.join(drill.targets)} as usable. Add targets "
                "to the drill (or free one) to run it again.",
                tell=tell_no_target(previous if previous is not None else await self.store.drills.latest(drill.name)),
                targets_left=left,
            )
        windows = await ddm.windows(source.id)
        point = restore_ms(drill.restore_point, windows, ms(now), rng=self._rng)
        if point is None:
            why = f"no restore point {drill.restore_point.text} is inside {source.name}'s restorable windows"
            return await self._not_started(drill, slot, Outcome.FAILED, why, targets_left=left)
        mappings = await self._mappings(place, drill, source.id, target.id, point)
        plan = RestorePlan(
            project_id=place.environment.project_id,
            region=place.environment.region,
            environment=place.environment.name,
            source=NamedRef(id=source.id, name=source.name),
            target=NamedRef(id=target.id, name=target.name),
            restore_time_ms=point,
            mappings=tuple(mappings),
            reason=f"drill {drill.name}",
            drill=drill.name,
        )
        problems, facts = await check_live(ddm, plan)
        if problems or facts is None:
            what = " ".join(p.message for p in problems) or "DDM could not confirm the plan."
            return await self._not_started(drill, slot, Outcome.FAILED, what, targets_left=left)
        auto = drill.approval == "auto"  # the file approves it, whoever started it
        policy = place.policy
        flow = None if auto else policy.flow
        claim = SlotClaim(
            drill.name,
            slot,
            approved_by=drill.actor if auto else None,
            details=(("config_sha256", drill.config_sha256),),
            targets_left=max(0, left - 1),  # this request takes one
        )
        try:
            request = await self.store.create(
                plan=named_by_ddm(plan, facts),
                requester_id=requester_id or drill.actor,
                channel_id=drill.channel_id,
                required_approvals=flow.total_required if flow is not None else 1,
                now=now,
                expires_at=now + policy.ttl,
                flow=flow,
                claim=claim,
            )
        except SlotTaken:
            return DrillNotStarted(Outcome.REQUESTED, "another replica made this slot's request")
        except TargetBusy as busy_target:
            return DrillNotStarted(Outcome.FAILED, f"{target.name} is held by {busy_target.holder.id}")
        self._counted(drill.name, Outcome.REQUESTED)
        if auto:
            self._spawn(self._submit(request), f"submit {request.id}")
        return DrillStarted(request)

    async def _mappings(
        self, place: Place, drill: Drill, source_id: str, target_id: str, point: int
    ) -> list[DataNodeMapping]:
        """The drill's map (names or ids), else for each source data node the first usable target one, by name."""
        wanted = dict(drill.mapping)
        found, used = [], set()
        for node in sorted(await place.ddm.source_data_nodes(source_id, point), key=lambda n: n.name):
            options = await place.ddm.data_node_candidates(
                source_id, target_id=target_id, source_node_id=node.id, restore_time_ms=point
            )
            usable = sorted((c for c in options if c.available and c.id not in used), key=lambda c: c.name)
            choice = wanted.get(node.name) or wanted.get(node.id)
            pick = next((c for c in usable if choice in (c.id, c.name)), None) if choice else None
            pick = pick or (usable[0] if usable and not choice else None)
            if pick is None:
                continue  # the live check names the node left unmapped
            used.add(pick.id)
            found.append(DataNodeMapping(source=NamedRef(id=node.id, name=node.name), target=NamedRef(id=pick.id)))
        return found

    async def _not_started(
        self,
        drill: Drill,
        slot: datetime,
        outcome: str,
        message: str,
        *,
        tell: bool = True,
        targets_left: int | None = None,
    ) -> DrillNotStarted:
        recorded = await self.store.drills.record(
            drill.name, slot, outcome, now=self.clock(), detail=message[:500], targets_left=targets_left
        )
        if recorded:
            self._counted(drill.name, outcome)
            if tell:
                await self._say(drill, f"🧪 Drill *{drill.name}* did not start: {message}")
        return DrillNotStarted(outcome, message, recorded=recorded)

    async def _report(self, drill: Drill) -> None:
        if self._changed is None:
            return
        try:
            await self._changed(drill.environment)
        except Exception as exc:  # the drill's change is made; a stale Home is no reason to undo or redo it
            log.warning("drill %r: its status changed, but telling so failed: %s", drill.name, type(exc).__name__)

    async def _say(self, drill: Drill, text: str) -> None:
        try:
            await self._tell(drill.channel_id, text)
        except Exception as exc:  # the slot is recorded; a lost message is logged, never retried into a second
            log.warning("drill %r: telling %s failed: %s", drill.name, drill.channel_id, exc)

    async def statuses(self, environments: Collection[str] | None = None) -> list[DrillStatus]:
        """Each drill's next run, last result and last success (the newest verified of its last slots: all
        replicas', read from the store); only those of `environments` when given. Targets left are as the newest
        slot that asked DDM found them, whichever replica claimed it: no DDM call here."""
        now = self.clock()
        found = []
        for _place, drill in self.drills:
            if environments is not None and drill.environment not in environments:
                continue
            last, success = "never ran", None
            records = await self.store.drills.recent(drill.name, STATUS_SLOTS)
            left = next((record.targets_left for record in records if record.targets_left is not None), None)
            for index, record in enumerate(records):
                request = await self.store.get(record.request_id) if record.request_id else None
                if index == 0:
                    what = f"{request.id} {request.state.value.lower()}" if request else record.outcome
                    last = f"{what} ({utc_text(ms(record.slot), millis=False)})"
                if request is not None and request.state is RequestState.VERIFIED:
                    success = request.finished_at
                    break
            found.append(DrillStatus(drill, drill.cron.next_after(now), last, success, left))
        return found


def _find(instances: Sequence[Instance], wanted: str) -> Instance | None:
    return next((i for i in instances if wanted in (i.id, i.name)), None)


def _busy(target: TargetCandidate) -> TargetCandidate:
    return TargetCandidate(target.id, target.name, available=False, reason="held by an active request")


def _minutes(window: timedelta) -> str:
    return f"{window.total_seconds() / 60:g} min"
