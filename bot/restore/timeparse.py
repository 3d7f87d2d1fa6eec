"""Reading and showing restore points without ambiguity.

Accepted: `latest`; epoch milliseconds (13 digits); ISO-8601 with a zone (`Z`, `+08:00`, `+0800`), to the
second or millisecond. A time without a zone is refused: nobody should have to guess which zone was meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.errors import PersonError

LATEST = "latest"
_EPOCH_RE = re.compile(r"^\d+$")
_FRACTION_RE = re.compile(r"[T ]\d{2}:\d{2}:\d{2}[.,](\d+)")
_ZONE_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


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
        return RestorePointInput(int(value))
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
        raise TimeInputError(
            f"“{value}” is not a time I can read; use ISO-8601 with a zone (2026-11-27T09:12:32.500+08:00), "
            "epoch milliseconds, or latest."
        ) from None
    if moment.tzinfo is None:  # pragma: no cover - the zone check above makes this unreachable
        raise TimeInputError("add a time zone")
    return RestorePointInput(epoch_ms_of(moment))


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
