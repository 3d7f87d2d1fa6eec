"""Acks before background work: a job spawned after an ack starts only when no Slack request is being answered,
or once it has waited `max_wait_seconds`.

Slack gives a request 3 s for its ack, and the acks share one event loop with the work listeners hand to the
supervisor (opening a form, posting a refusal). Under a burst, asyncio runs ready work first come, first served,
so each ack would wait behind the jobs of the requests before it. Here a job waits at its start while requests
are being answered; when none is, the waiting jobs start one per turn of the event loop (FIFO), so a request
that arrives meanwhile is read between two of them. The wait is bounded: a form's trigger_id expires 3 s after
the command, so a job never waits longer than `max_wait_seconds` (0.3 s), however busy the process is.

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


class AckFirst:
    def __init__(self, *, clock: Clock = WALL_CLOCK, max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self.clock = clock
        self.max_wait_seconds = max_wait_seconds
        self.answering_now = 0  # requests being answered
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()  # (deadline, the job's go), FIFO
        self._release_scheduled = False
        self._bound: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return sum(1 for _, go in self._waiting if not go.done())

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the handling of one Slack request, from its arrival to its answer."""
        self.answering_now += 1
        try:
            yield
        finally:
            self.answering_now -= 1
            if self.answering_now == 0 and self._waiting:
                self._schedule_release()

    async def turn(self) -> None:
        """Return when the job may start: at once when no request is being answered and no job waits before it."""
        if self.answering_now == 0 and not self._waiting:
            return
        go: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((self.clock.monotonic() + self.max_wait_seconds, go))
        if self._bound is None or self._bound.done():
            self._bound = asyncio.get_running_loop().create_task(self._enforce_bound(), name="ack-first bound")
        if self.answering_now == 0:
            self._schedule_release()
        await go  # cancelled: its entry is skipped (done) when its turn comes

    def _schedule_release(self) -> None:
        if not self._release_scheduled:
            self._release_scheduled = True
            asyncio.get_running_loop().call_soon(self._release_next)

    def _release_next(self) -> None:
        """One job starts per turn of the event loop, so requests that arrived meanwhile are read in between."""
        self._release_scheduled = False
        if self.answering_now:
            return  # the last answer will call again
        while self._waiting:
            _, go = self._waiting.popleft()
            if not go.done():
                go.set_result(None)
                break
        if self._waiting:
            self._schedule_release()

    async def _enforce_bound(self) -> None:
        """Start every job that has waited `max_wait_seconds`, busy or not; ends when no job waits."""
        while self._waiting:
            deadline, go = self._waiting[0]
            now = self.clock.monotonic()
            if go.done():
                self._waiting.popleft()
            elif deadline <= now:
                self._waiting.popleft()
                go.set_result(None)
            else:
                await self.clock.sleep(deadline - now)
