"""Acks before background work: a job spawned after an ack starts once Slack's requests have let up, or once it has
waited `max_wait_seconds`.

Slack gives a request 3 s for its ack, and the acks share one event loop with the work listeners hand to the
supervisor (opening a form, posting a refusal). Under a burst, asyncio runs ready work first come, first served,
so each ack would wait behind the jobs of the requests before it: the CPU a request costs, ack and job, times the
requests ahead of it. Here a job waits while a request is being answered or one arrived less than
`quiet_seconds` ago (a request is seen only once the event loop has read it, so "none being answered" alone would
let a job in between every two requests of a burst); then the waiting jobs start in order, one per turn of the
event loop, so a request that arrives meanwhile is read between two of them and stops the rest. The wait is
bounded: a form's trigger_id expires 3 s after the command, so a job never waits longer than `max_wait_seconds`
however busy the process is. A request that takes long to answer (an options load, a submission's live checks)
counts as being answered: jobs wait for it up to the bound.

The HTTP handler (bot.serving.serve) and Socket Mode's (bot.serving.socket_mode) wrap each request in
`answering()`; `Supervisor.spawn` waits for `turn()` before it runs a job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator

from bot.runtime.clock import WALL_CLOCK, Clock

MAX_WAIT_SECONDS = 0.3  # far inside the 3 s a form's trigger_id lives
QUIET_SECONDS = 0.003  # no request for this long: the burst is over (requests of one arrive ~1 ms apart)


class AckFirst:
    def __init__(
        self,
        *,
        clock: Clock = WALL_CLOCK,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.clock = clock
        self.max_wait_seconds = max_wait_seconds
        self.quiet_seconds = quiet_seconds
        self.answering_now = 0  # requests being answered
        self.last_arrival = float("-inf")  # clock.monotonic() when the last request arrived
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()  # (deadline, the job's go), FIFO
        self._releaser: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return sum(1 for _, go in self._waiting if not go.done())

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the handling of one Slack request, from its arrival to its answer."""
        self.answering_now += 1
        self.last_arrival = self.clock.monotonic()
        try:
            yield
        finally:
            self.answering_now -= 1

    def _busy_until(self) -> float | None:
        """When the requests will have let up if no other comes (None: one is being answered)."""
        return None if self.answering_now else self.last_arrival + self.quiet_seconds

    async def turn(self) -> None:
        """Return when the job may start: at once when the requests have let up and no job waits before it."""
        if not self._waiting and (until := self._busy_until()) is not None and until <= self.clock.monotonic():
            return
        go: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((self.clock.monotonic() + self.max_wait_seconds, go))
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.get_running_loop().create_task(self._release(), name="ack-first")
        await go  # if cancelled, its entry is skipped when its turn comes

    async def _release(self) -> None:
        """Start the waiting jobs in order, one per turn of the event loop, when the requests have let up or the
        job has waited its bound; ends when no job waits."""
        while self._waiting:
            deadline, go = self._waiting[0]
            if go.done():  # cancelled while it waited
                self._waiting.popleft()
                continue
            now = self.clock.monotonic()
            until = self._busy_until()
            if deadline <= now or (until is not None and until <= now):
                self._waiting.popleft()
                go.set_result(None)
                await asyncio.sleep(0)  # the job's first step runs before the next is let go
                continue
            # Look again when the quiet time would be over (or in a quiet time, while a request is answered).
            await self.clock.sleep(min(deadline, until if until is not None else now + self.quiet_seconds) - now)
