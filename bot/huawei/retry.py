"""How long and how often a DDM call may try: the timeouts of one try, the deadlines they add up to (which the
liveness bounds are built from: bot.runtime.bounds), and the retry policy with its backoff and Retry-After."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, for read calls
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def backoff(self, attempt: int) -> float:
        capped = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return capped * random.uniform(0.5, 1.0)  # jitter spreads retries of many callers


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.connect)

    def read_deadline(self, wait: float = 0.0) -> float:
        """The longest one read call (one page) may take in all: `wait` for a slot of the call budget, then two
        tries at full timeouts and the backoff between them (further tries fit only when DDM fails fast)."""
        return wait + 2 * (self.connect + self.read) + 1.0

    @property
    def submit_deadline(self) -> float:
        """The longest the restore POST may take (a token refresh and a trickling answer included)."""
        return self.connect + self.read + 5


def retry_after_seconds(value: str | None, clock: Callable[[], datetime]) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - clock()).total_seconds())


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()
