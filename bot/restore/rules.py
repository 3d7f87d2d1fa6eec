"""Routing rules: an environment's rules choose a request's approval flow by its risk, or refuse it. Pure.

The rules are tried in order when a request is made and the first whose conditions all hold decides: its `flow`
(names of the environment's stages, in order) or its `refuse` (a message). When none holds the request gets the
environment's stages. The decision is frozen into the request (bot.restore.flow). Conditions:
- the restore point older / newer than some hours (against the request's time: the desk's clock);
- the target's or the source's name or id matching a glob (`*`, `?`, `[…]`, case-sensitive);
- at least some data nodes;
- the time of the request on some weekdays, between two times of day, in a time zone (a range whose end comes
  before its start runs past midnight, into the next day);
- the requester among some users or members of some user groups.

`unreachable` finds a rule no request can reach: its own conditions contradict each other, or an earlier rule
takes every request it would (only what can be proven is reported: it may miss some, never accuses wrongly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from zoneinfo import ZoneInfo

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # datetime.weekday()'s order
_DAY = 24 * 60
_GLOB_SPECIALS = frozenset("*?[")


@dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday) and a range of minutes of the day, both ends included, in a time zone."""

    days: frozenset[int] = frozenset(range(7))
    start: int = 0  # minute of the day
    end: int = _DAY - 1
    zone: str = "UTC"

    def contains(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.zone))
        return (local.weekday(), local.hour * 60 + local.minute) in self.minutes

    @cached_property
    def minutes(self) -> frozenset[tuple[int, int]]:
        """Every (weekday, minute) of the week in the window; one past midnight counts on the day it reaches."""
        found: set[tuple[int, int]] = set()
        for day in self.days:
            if self.start <= self.end:
                found.update((day, m) for m in range(self.start, self.end + 1))
            else:
                found.update((day, m) for m in range(self.start, _DAY))
                found.update(((day + 1) % 7, m) for m in range(0, self.end + 1))
        return frozenset(found)

    def covers(self, other: Window) -> bool:
        """Is every moment of `other` in this window? (Only told for windows in the same zone.)"""
        return self.zone == other.zone and other.minutes <= self.minutes


@dataclass(frozen=True)
class RequestFacts:
    """What the rules look at: the request as it is being made."""

    source_id: str
    source_name: str
    target_id: str
    target_name: str
    restore_time: datetime
    data_nodes: int
    requester_id: str
    requester_group_ids: frozenset[str]  # the configured groups the requester is in
    now: datetime


@dataclass(frozen=True)
class Conditions:
    """All that are given must hold; none given: every request."""

    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    target_glob: str | None = None
    source_glob: str | None = None
    data_nodes_at_least: int | None = None
    window: Window | None = None
    requester_user_ids: frozenset[str] = frozenset()
    requester_group_ids: frozenset[str] = frozenset()

    @property
    def about_requester(self) -> bool:
        return bool(self.requester_user_ids or self.requester_group_ids)

    def hold(self, facts: RequestFacts) -> bool:
        age = facts.now - facts.restore_time
        if self.older_than is not None and not age > self.older_than:
            return False
        if self.newer_than is not None and not age < self.newer_than:
            return False
        if self.target_glob is not None and not _matches(self.target_glob, facts.target_name, facts.target_id):
            return False
        if self.source_glob is not None and not _matches(self.source_glob, facts.source_name, facts.source_id):
            return False
        if self.data_nodes_at_least is not None and facts.data_nodes < self.data_nodes_at_least:
            return False
        if self.window is not None and not self.window.contains(facts.now):
            return False
        if self.about_requester:
            groups = facts.requester_group_ids & self.requester_group_ids
            if facts.requester_id not in self.requester_user_ids and not groups:
                return False
        return True

    def contradiction(self) -> str | None:
        """Why no request can meet these conditions, or None."""
        if self.older_than is not None and self.newer_than is not None and self.older_than >= self.newer_than:
            return (
                "no restore point is older than "
                f"{_hours(self.older_than)} h and newer than {_hours(self.newer_than)} h at once"
            )
        return None

    def within(self, wider: Conditions) -> bool:
        """Does every request that meets these conditions meet `wider`'s too (as far as can be proven)?"""
        if wider.older_than is not None and (self.older_than is None or self.older_than < wider.older_than):
            return False
        if wider.newer_than is not None and (self.newer_than is None or self.newer_than > wider.newer_than):
            return False
        if not _glob_within(self.target_glob, wider.target_glob):
            return False
        if not _glob_within(self.source_glob, wider.source_glob):
            return False
        if wider.data_nodes_at_least is not None and (
            self.data_nodes_at_least is None or self.data_nodes_at_least < wider.data_nodes_at_least
        ):
            return False
        if wider.window is not None and (self.window is None or not wider.window.covers(self.window)):
            return False
        if wider.about_requester:
            if not self.about_requester:
                return False
            if not (
                self.requester_user_ids <= wider.requester_user_ids
                and self.requester_group_ids <= wider.requester_group_ids
            ):
                return False
        return True


@dataclass(frozen=True)
class Rule:
    name: str
    when: Conditions
    flow: tuple[str, ...] = ()  # the environment's stages it asks, by name, in order
    refuse: str = ""  # when set, the request is refused with this message

    def __post_init__(self) -> None:
        if bool(self.flow) == bool(self.refuse):
            raise ValueError(f"rule {self.name!r} needs a flow or a refusal (one of them)")


def first_match(rules: Sequence[Rule], facts: RequestFacts) -> Rule | None:
    return next((rule for rule in rules if rule.when.hold(facts)), None)


def unreachable(rules: Sequence[Rule]) -> list[tuple[int, str]]:
    """The rules no request can reach, as (0-based index, why)."""
    found: list[tuple[int, str]] = []
    for index, rule in enumerate(rules):
        if (why := rule.when.contradiction()) is not None:
            found.append((index, why))
            continue
        earlier = next((i for i in range(index) if rule.when.within(rules[i].when)), None)
        if earlier is not None:
            found.append(
                (index, f"rule[{earlier + 1}] ({rules[earlier].name!r}) comes first and takes every request it would")
            )
    return found


def is_glob(pattern: str) -> bool:
    return bool(_GLOB_SPECIALS & set(pattern))


def glob_problem(pattern: str) -> str | None:
    """What is wrong with a glob, or None: empty, or a `[` set that never closes."""
    if not pattern.strip():
        return "an empty pattern matches nothing; give a name, an id or a glob such as *-drill-*"
    index = 0
    while index < len(pattern):
        if pattern[index] == "[":
            close = pattern.find("]", index + 2 if pattern[index + 1 : index + 2] in ("!", "]") else index + 1)
            if close < 0:
                return f"the [ at position {index + 1} is never closed"
            index = close
        index += 1
    return None


def _matches(glob: str, name: str, identifier: str) -> bool:
    return fnmatchcase(name, glob) or fnmatchcase(identifier, glob)


def _glob_within(narrow: str | None, wide: str | None) -> bool:
    """Does every name or id `narrow` matches match `wide` (as far as can be proven)?"""
    if wide is None:
        return True
    if narrow is None:
        return False
    return narrow == wide or wide == "*" or (not is_glob(narrow) and fnmatchcase(narrow, wide))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"
