"""A clock the test moves: the wall clock plus the time the test skipped (bot.runtime.clock.Clock).

Time flows as it does on the wall (the simulator's jobs, Slack's answers and the bot's loops run as usual) and
`advance` jumps it ahead: an approval's TTL or a review's deadline passes at once, and every sleep on this clock
that the jump carried past its end returns (so a loop waiting for its next cycle runs it now).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class DrivenClock:
    def __init__(self) -> None:
        self.skipped = 0.0  # seconds
        self._moved: list[asyncio.Event] = []  # one per sleeper; set when the clock jumps

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skipped)

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def advance(self, delta: timedelta | float) -> None:
        self.skipped += delta.total_seconds() if isinstance(delta, timedelta) else delta
        for moved in self._moved:
            moved.set()

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        end = self.monotonic() + seconds
        moved = asyncio.Event()
        self._moved.append(moved)
        try:
            while (left := end - self.monotonic()) > 0 and not (wake is not None and wake.is_set()):
                moved.clear()
                waits = [asyncio.ensure_future(moved.wait())]
                if wake is not None:
                    waits.append(asyncio.ensure_future(wake.wait()))
                try:
                    await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
        finally:
            self._moved.remove(moved)
