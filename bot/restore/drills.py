"""Drills: restores a schedule asks for, to targets kept for drills. Pure: which slot runs, which were missed, the
restore point and the target a drill takes.

A slot is one time the schedule names. The loop (bot.workflow.drills) claims each slot once, across replicas and
restarts, by a row per drill and slot (the store's unique key); here is only what to claim:
- the latest slot not yet claimed runs if it is within the drill's window of now (a slot missed while the bot was
  down runs once when it comes back);
- an older unclaimed slot, or the latest when its window has passed, is missed: reported once (the newest of them,
  with how many), never run.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.restore.cron import Cron
from bot.restore.facts import TargetCandidate
from bot.restore.timeparse import Window

DEFAULT_WINDOW = timedelta(hours=1)
# How far back unclaimed slots are looked for (a drill's first run looks back only its window): older is history.
LOOKBACK = timedelta(days=8)
_OFFSET = re.compile(r"^-(\d+)(m|h|d)$", re.ASCII)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

Approval = Literal["auto", "stages"]


@dataclass(frozen=True)
class RestorePoint:
    """`latest`, `random` (inside the restorable window) or an offset before now (`-2h`)."""

    kind: Literal["latest", "random", "offset"]
    offset: timedelta = timedelta(0)

    @property
    def text(self) -> str:
        if self.kind != "offset":
            return self.kind
        return f"-{int(self.offset.total_seconds() // 60)}m"


def parse_restore_point(text: str) -> RestorePoint:
    """A drill's restore point; ValueError saying what is accepted."""
    value = text.strip().lower()
    if value in ("latest", "random"):
        return RestorePoint(value)  # type: ignore[arg-type]
    found = _OFFSET.fullmatch(value)
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f'{text!r} is not a restore point; use "latest", "random" or an age such as "-2h", "-30m"')
    return RestorePoint("offset", timedelta(**{_UNITS[found.group(2)]: int(found.group(1))}))


@dataclass(frozen=True)
class Drill:
    name: str
    schedule: str  # as written (shown by /ddm-restore drills)
    cron: Cron
    source: str  # a DDM instance name or id
    targets: tuple[str, ...]  # the pool, names or ids, in the order they are taken
    restore_point: RestorePoint = RestorePoint("latest")
    approval: Approval = "auto"
    mapping: tuple[tuple[str, str], ...] = ()  # source data node → target data node, names or ids
    window: timedelta = DEFAULT_WINDOW
    environment: str = ""
    channel_id: str = ""  # where its cards go: the environment's first channel
    config_sha256: str = ""  # of the environments file: with `auto`, the file is the approval

    @property
    def actor(self) -> str:
        return f"drill:{self.name}"


class Outcome:
    """What became of a drill's slot (a row per drill and slot: bot.store)."""

    REQUESTED = "requested"  # a request was made for it (its result is the request's)
    MISSED = "missed"  # the bot was down past its window
    NO_TARGET = "no_target"  # no target of the pool is usable
    FAILED = "failed"  # it could not be planned (DDM said no, no restore point, …)


@dataclass(frozen=True)
class SlotClaim:
    """The slot a drill's request is made for, claimed in the same change as the request (once, across replicas
    and restarts). With `approved_by`, the request is made approved by the environments file (approval = auto),
    `details` (the file's hash) in its audit record."""

    drill: str
    slot: datetime
    approved_by: str | None = None
    details: tuple[tuple[str, str], ...] = ()
    targets_left: int | None = None  # the pool's usable targets once this request took one


@dataclass(frozen=True)
class SlotRecord:
    drill: str
    slot: datetime
    outcome: str
    at: datetime
    request_id: str | None = None
    detail: str = ""
    targets_left: int | None = None  # the pool's usable targets as this slot found them (None: not asked)


def tell_no_target(previous: SlotRecord | None) -> bool:
    """Is the channel told that the pool is used up? Once: not again while every slot since found it so."""
    return previous is None or previous.outcome != Outcome.NO_TARGET


@dataclass(frozen=True)
class SlotPlan:
    run: datetime | None = None  # the slot to run now
    missed: datetime | None = None  # the newest slot that will never run (reported once)
    missed_count: int = 0


def plan_slots(cron: Cron, now: datetime, *, last: datetime | None, window: timedelta) -> SlotPlan:
    """What to claim now, given the newest slot already claimed (`last`; None: the drill never ran)."""
    since = max(last, now - LOOKBACK) if last is not None else now - window
    slots = tuple(cron.times(since, now))
    if not slots:
        return SlotPlan()
    newest = slots[-1]
    if last is None:  # a new drill: nothing of its past was ever due
        return SlotPlan(run=newest) if now - newest <= window else SlotPlan()
    if now - newest <= window:
        older = slots[:-1]
        return SlotPlan(run=newest, missed=older[-1] if older else None, missed_count=len(older))
    return SlotPlan(missed=newest, missed_count=len(slots))


def pick_target(pool: tuple[str, ...], candidates: list[TargetCandidate]) -> TargetCandidate | None:
    """The first of the pool, in its order, that DDM lists as usable (by id, else by name)."""
    usable = [each for each in candidates if each.available]
    for wanted in pool:
        for each in usable:
            if wanted in (each.id, each.name):
                return each
    return None


def targets_left(pool: tuple[str, ...], candidates: list[TargetCandidate]) -> int:
    """How many of the pool DDM still lists as usable."""
    return sum(1 for wanted in pool if any(c.available and wanted in (c.id, c.name) for c in candidates))


def restore_ms(point: RestorePoint, windows: list[Window], now_ms: int, *, rng: random.Random) -> int | None:
    """The restore point to use, inside the restorable windows; None when there is none (no window, or the age
    asked for falls outside every window)."""
    if not windows:
        return None
    latest = max(w.end_ms for w in windows)
    if point.kind == "latest":
        return latest
    if point.kind == "random":
        total = sum(w.end_ms - w.start_ms for w in windows)
        pick = rng.randint(0, max(total, 0))
        for w in sorted(windows, key=lambda w: w.start_ms):
            if pick <= w.end_ms - w.start_ms:
                return w.start_ms + pick
            pick -= w.end_ms - w.start_ms
        return latest
    wanted = now_ms - int(point.offset.total_seconds() * 1000)
    return wanted if any(w.contains(wanted) for w in windows) else None


@dataclass
class DrillStatus:
    """What /ddm-restore drills and the metrics show of a drill."""

    drill: Drill
    next_run: datetime | None
    last: str  # the last result, in words
    last_success: datetime | None
    targets_left: int | None  # None: DDM did not answer
