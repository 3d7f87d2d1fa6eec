"""The one clock of a running bot: what every loop and use case reads the time from and waits on.

The composition root (bot.app.build_runtime) hands the same clock to all of them: the wall clock in production;
in tests, one the test moves (tests/support/clock.py), so that an approval's TTL or a review's deadline passes
when the test says, not after a real wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go back: how long ago something happened (a loop's last cycle)."""
        ...

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Return once `seconds` have passed on this clock, or as soon as `wake` is set."""
        ...


class WallClock:
    """The host's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        if wake is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=seconds)


WALL_CLOCK = WallClock()
