"""Reading and showing restore points without ambiguity.

Accepted: `latest`; epoch milliseconds (13 digits); ISO-8601 with a zone (`Z`, `+08:00`, `+0800`), to the
second or millisecond. A time without a zone is refused: nobody should have to guess which zone was meant.
Every restore point lies in [EARLIEST_MS, END_MS): outside it is no backup, and Python's dates end there too,
so nothing later has to handle a year 0 or 10000.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.errors import PersonError

LATEST = "latest"
# ASCII digits only: `\d` would take other scripts' digits, which nobody means in a restore point.
_EPOCH_RE = re.compile(r"^\d+$", re.ASCII)
_DATE_RE = re.compile(r"^\d{4}-?\d{2}", re.ASCII)
_FRACTION_RE = re.compile(r"[T ]\d{2}:\d{2}:\d{2}[.,](\d+)", re.ASCII)
_ZONE_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2}(:?\d{2}(\.\d{1,6})?)?)$", re.IGNORECASE | re.ASCII)
# The restore points accepted at all: 2000-01-01 to 2999-12-31 UTC (the picker's own range ends there too).
EARLIEST_MS = 946_684_800_000
END_MS = 32_503_680_000_000
RANGE_TEXT = "2000-01-01 to 2999-12-31 UTC"


class TimeInputError(PersonError, ValueError):
    pass


@dataclass(frozen=True)
class RestorePointInput:
    """Either an exact epoch-ms restore point, or `latest` (resolved against the live window later)."""

    epoch_ms: int | None

    @property
    def is_latest(self) -> bool:
        return self.epoch_ms is None


def parse_restore_point(text: str) -> RestorePointInput:
    value = text.strip()
    if not value:
        raise TimeInputError("Enter a restore point.")
    if value.lower() == LATEST:
        return RestorePointInput(None)
    if _EPOCH_RE.fullmatch(value):
        if len(value) == 10:
            raise TimeInputError(f"{value} looks like epoch seconds; give epoch milliseconds ({value}000).")
        if len(value) != 13:
            raise TimeInputError(f"{value} is not epoch milliseconds (13 digits, e.g. 1795752174484).")
        return RestorePointInput(in_range(int(value), value))
    if not _DATE_RE.match(value):
        raise TimeInputError(_unreadable(value))
    fraction = _FRACTION_RE.search(value)
    if fraction and len(fraction.group(1)) > 3:
        raise TimeInputError("Give the time to the millisecond at most (e.g. 09:12:32.500).")
    if not _ZONE_RE.search(value):
        raise TimeInputError(
            f"“{value}” has no time zone; add one, e.g. 2026-11-27T09:12:32+08:00, or Z for UTC, or use epoch ms."
        )
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise TimeInputError(_unreadable(value)) from None
    if moment.tzinfo is None:  # pragma: no cover - the zone check above makes this unreachable
        raise TimeInputError("add a time zone")
    return RestorePointInput(in_range(epoch_ms_of(moment), value))


def _unreadable(value: str) -> str:
    return (
        f"“{value}” is not a time I can read; use ISO-8601 with a zone (2026-11-27T09:12:32.500+08:00), "
        "epoch milliseconds, or latest."
    )


def in_range(epoch_ms: int, shown: str) -> int:
    """`epoch_ms` when it is a restore point at all; else TimeInputError naming the range (`shown`: as typed)."""
    if not EARLIEST_MS <= epoch_ms < END_MS:
        raise TimeInputError(f"“{shown}” is outside the times I accept ({RANGE_TEXT}).")
    return epoch_ms


def picker_epoch_ms(picked: object) -> int:
    """The date-time picker's value (epoch seconds, as Slack sends it) as epoch ms. The payload is anyone's to
    forge: a bool, text, NaN, ±infinity (JSON's 1e400) or a huge number are TimeInputErrors, never a crash."""
    unreadable = TimeInputError("The picker sent a time I can't read; pick the restore point again.")
    if isinstance(picked, bool) or not isinstance(picked, int | float | str):
        raise unreadable
    if isinstance(picked, float) and math.isinf(picked):
        seconds = END_MS if picked > 0 else -1  # out of range, and said so
    else:
        try:
            seconds = int(picked)
        except ValueError:  # "soon", NaN
            raise unreadable from None
    if not EARLIEST_MS // 1000 <= seconds < END_MS // 1000:
        raise TimeInputError(f"The picked time is outside the times I accept ({RANGE_TEXT}).")
    return seconds * 1000


def epoch_ms_of(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def datetime_of(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).replace(microsecond=(epoch_ms % 1000) * 1000)


def utc_text(epoch_ms: int, *, millis: bool = True) -> str:
    """`2026-11-27 01:12:32.500 UTC`."""
    moment = datetime_of(epoch_ms)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if millis:
        text += f".{epoch_ms % 1000:03d}"
    return text + " UTC"


def duration_text(delta: timedelta) -> str:
    """`3m12s`, `1h02m03s`, `45s`."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def iso_utc(epoch_ms: int) -> str:
    """`2026-11-27T01:12:32.500Z`."""
    moment = datetime_of(epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{epoch_ms % 1000:03d}Z"


@dataclass(frozen=True)
class Window:
    start_ms: int
    end_ms: int

    def contains(self, epoch_ms: int) -> bool:
        return self.start_ms <= epoch_ms <= self.end_ms

    def describe(self) -> str:
        return f"{utc_text(self.start_ms, millis=False)} → {utc_text(self.end_ms, millis=False)}"


def check_in_windows(epoch_ms: int, windows: list[Window]) -> str | None:
    """None when restorable; otherwise the sentence saying which window(s) to use."""
    if not windows:
        return "This instance has no restorable time window (no usable backups)."
    if any(window.contains(epoch_ms) for window in windows):
        return None
    ranges = "; ".join(window.describe() for window in windows)
    return f"{utc_text(epoch_ms)} is outside the restorable window ({ranges})."


def latest_of(windows: list[Window]) -> int | None:
    return max((window.end_ms for window in windows), default=None)
