"""The supervisor: owns every background loop and task, restarts a loop that fails, and knows if all is well.

It is the only task registry: listeners' post-ack work, submits and the loops (announcer, sweeper, follower)
all run under it, and shutdown drains it. asyncio keeps only weak references to tasks, so ours are kept here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.runtime.clock import WALL_CLOCK, Clock

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 60.0
# A loop is unhealthy when its last finished cycle is older than this many intervals.
STALE_AFTER_INTERVALS = 3
LOOP_STOP_SECONDS = 5.0  # how long shutdown waits for a loop to finish the step it is in


@dataclass
class LoopState:
    name: str
    interval: float
    step: Callable[[], Awaitable[float | None]]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last_ok: float | None = None  # monotonic time of the last cycle that finished
    last_delay: float = 0.0  # the wait that cycle asked for (a follower backing off from DDM asks for minutes)
    started: float = 0.0
    failures: int = 0
    last_error: str | None = None

    def health(self, now: float) -> dict[str, Any]:
        alive = self.task is not None and not self.task.done()
        since = self.last_ok if self.last_ok is not None else self.started
        allowed = max(STALE_AFTER_INTERVALS * self.interval, self.last_delay + self.interval, 1.0)
        fresh = now - since <= allowed
        return {
            "ok": alive and fresh,
            "alive": alive,
            "seconds_since_cycle": round(now - since, 3),
            "failures": self.failures,
            "last_error": self.last_error,
        }


class Supervisor:
    def __init__(self, *, clock: Clock = WALL_CLOCK) -> None:
        self.clock = clock  # loops wait on it, and health measures their cycles with it
        self.loops: dict[str, LoopState] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # ---- loops ---------------------------------------------------------------------------------------------

    def every(self, name: str, interval: float, step: Callable[[], Awaitable[float | None]]) -> LoopState:
        """Run `step` forever: again after the delay it returns (or `interval`), or sooner when woken."""
        state = LoopState(name=name, interval=interval, step=step)
        self.loops[name] = state
        return state

    def wake(self, name: str) -> None:
        state = self.loops.get(name)
        if state is not None:
            state.wake.set()

    def start(self) -> None:
        for state in self.loops.values():
            if state.task is None or state.task.done():
                state.started = self.clock.monotonic()
                state.task = asyncio.get_running_loop().create_task(self._run(state), name=state.name)

    async def _run(self, state: LoopState) -> None:
        while not self._closing:
            try:
                delay = await state.step()
                state.last_ok = self.clock.monotonic()
                state.last_delay = delay if delay is not None else state.interval
                state.failures = 0
                state.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A database or Slack outage must never end a loop: log, back off, go on.
                state.failures += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:300]
                delay = min(MAX_BACKOFF_SECONDS, state.interval * (2 ** min(state.failures - 1, 6)))
                log.warning(
                    "%s failed (%s); again in %.1f s", state.name, state.last_error, delay, exc_info=state.failures == 1
                )
            if self._closing:
                break
            state.wake.clear()
            await self.clock.sleep(delay if delay is not None else state.interval, state.wake)

    def health(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock.monotonic()
        loops = {name: state.health(now) for name, state in self.loops.items()}
        return all(entry["ok"] for entry in loops.values()), loops

    # ---- one-off tasks -------------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        if self._closing:
            coro.close()
            log.info("shutting down: %s not started", name)
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def busy(self) -> int:
        return len(self._tasks)

    # ---- shutdown ------------------------------------------------------------------------------------------

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Stop the loops, let in-flight tasks (a submit past its POST) finish within the grace, cancel the rest."""
        self._closing = True
        loops = [s.task for s in self.loops.values() if s.task is not None and not s.task.done()]
        for state in self.loops.values():
            state.wake.set()
        # A loop ends after the step it is in: cancelling one mid-transaction would leave SQLite's write lock
        # held by a connection nobody closes. Only a step that takes too long is cancelled.
        if loops:
            await asyncio.wait(loops, timeout=min(grace_seconds, LOOP_STOP_SECONDS))
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        left = list(self._tasks)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
