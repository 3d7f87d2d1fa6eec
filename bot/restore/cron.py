"""Cron schedules (five fields: minute hour day-of-month month day-of-week), parsed and walked. Pure.

Written here rather than taken from a dependency: the drills need only parsing and "the times between two
instants", which is small, and the maintained libraries bring far more (second fields, macros, their own time zone
handling) than a reviewer would want to check. Each field takes `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`,
lists `a,b`, and the names JAN..DEC and SUN..SAT (0 and 7 are both Sunday). As in Vixie cron, when both the day of
the month and the day of the week are restricted, a day matching either runs.

The times are wall-clock times in the schedule's time zone: a time skipped by a daylight-saving change does not run;
one repeated runs once (the first).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# name, lowest, highest, names (the first name is worth `lowest`)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of the month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of the week", 0, 7, _DAYS),
)
_SEARCH_DAYS = 366 * 9  # far enough for any day that exists: 29 FEB comes within 8 years (2096, then 2104)


class CronError(ValueError):
    """What is wrong with a schedule, in words a person can act on."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    any_day: bool  # the day-of-the-month field was `*`
    any_weekday: bool
    zone: str = "UTC"

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def times(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """The times it runs in (after, until], in UTC, oldest first."""
        zone = ZoneInfo(self.zone)
        day = after.astimezone(zone).date()
        last = until.astimezone(zone).date()
        while day <= last:
            if self.runs_on(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        local = datetime.combine(day, time(hour, minute), tzinfo=zone)
                        at = local.astimezone(UTC)
                        if at.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
                            continue  # skipped by a daylight-saving change
                        if after < at <= until:
                            yield at
            day += timedelta(days=1)

    def next_after(self, after: datetime) -> datetime | None:
        """The first time it runs after `after` (None: never, such as 30 FEB)."""
        horizon = after + timedelta(days=_SEARCH_DAYS)
        return next(self.times(after, horizon), None)

    def last_at_or_before(self, when: datetime, *, within: timedelta) -> datetime | None:
        """The latest time it ran in (when - within, when]."""
        found = None
        for found in self.times(when - within, when):  # noqa: B007 (the last one is wanted)
            pass
        return found


def parse_cron(text: str, zone: str = "UTC") -> Cron:
    """A schedule from its five fields; CronError naming the field and what it accepts."""
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        raise CronError(f"{zone!r} is not a time zone; give one such as Asia/Shanghai or UTC") from None
    parts = text.split()
    if len(parts) != 5:
        raise CronError(
            f"{text!r} has {len(parts)} field(s); a schedule has five: minute hour day-of-month month day-of-week "
            '(such as "0 3 * * MON")'
        )
    values = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(v % 7 for v in values[4])
    cron = Cron(
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
        zone=zone,
    )
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise CronError(f"{text!r} never runs (no such day)")
    return cron


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    found: set[int] = set()
    for item in text.split(","):
        found |= _item(item, name, low, high, names)
    return frozenset(found)


def _item(item: str, name: str, low: int, high: int, names: tuple[str, ...]) -> set[int]:
    accepted = f"{low}-{high}" + (f" or {names[0]}..{names[-1]}" if names else "")
    base, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"{name}: {item!r} has a step that is not a positive number")
        step = int(step_text)
    if base == "*":
        start, end = low, high
    else:
        first, dash, second = base.partition("-")
        start = _value(first, name, low, high, names, accepted)
        end = _value(second, name, low, high, names, accepted) if dash else (high if step_text else start)
        if end < start:
            raise CronError(f"{name}: {item!r} is a range that ends before it starts")
    return set(range(start, end + 1, step))


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...], accepted: str) -> int:
    upper = text.upper()
    if upper in names:
        return low + names.index(upper)
    if text.isascii() and text.isdigit() and low <= int(text) <= high:
        return int(text)
    raise CronError(f"{name}: {text!r} is not {accepted}")
