"""The supervisor: owns every background loop and task, restarts a loop that fails, and knows if all is well.

It is the only task registry: listeners' post-ack work, submits and the loops (announcer, sweeper, follower)
all run under it, and shutdown drains it. asyncio keeps only weak references to tasks, so ours are kept here.

Liveness is "this process can still make progress": every loop's task is alive, and it is either in a step that
has run no longer than the step's bound (which covers the timeouts and retries of the calls the step makes), or
waiting no longer than the wait it asked for. A loop that fails because the database, DDM or Slack is away is
alive: it backs off and tries again, and a restart would cure nothing (readiness tells of those). A step that
runs past its bound is stopped and counts as a failure; one that can't be stopped makes the process unhealthy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.runtime.ack_first import AckFirst
from bot.runtime.clock import WALL_CLOCK, Clock
from bot.runtime.outages import outage_cause

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 60.0
# How late a loop may wake from the wait it asked for, or finish stopping a step past its bound, before it counts
# as stuck: the event loop being busy for a moment is not a reason to restart.
LATE_SECONDS = 5.0
LOOP_STOP_SECONDS = 5.0  # how long shutdown waits for a loop to finish the step it is in


@dataclass
class LoopState:
    name: str
    interval: float
    step: Callable[[], Awaitable[float | None]]
    step_seconds: float  # the longest one step may take: its calls' timeouts and retries
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last_ok: float | None = None  # monotonic time of the last cycle that finished
    step_started: float | None = None  # monotonic time the step under way began (None while waiting)
    waiting_since: float = 0.0
    wait: float = 0.0  # the wait asked for after the last step (a follower backing off from DDM asks for minutes)
    started: float = 0.0
    failures: int = 0
    last_error: str | None = None

    def health(self, now: float) -> dict[str, Any]:
        alive = self.task is not None and not self.task.done()
        if self.step_started is not None:
            busy = now - self.step_started
            on_time = busy <= self.step_seconds + LATE_SECONDS
        else:
            busy = 0.0
            on_time = now - self.waiting_since <= self.wait + LATE_SECONDS
        since = self.last_ok if self.last_ok is not None else self.started
        return {
            "ok": alive and on_time,
            "alive": alive,
            "in_step_seconds": round(busy, 3),
            "step_bound_seconds": self.step_seconds,
            "seconds_since_cycle": round(now - since, 3),
            "failures": self.failures,
            "last_error": self.last_error,
        }


class Supervisor:
    def __init__(
        self,
        *,
        clock: Clock = WALL_CLOCK,
        outage: Callable[[BaseException], str | None] = outage_cause,
        ack_first: AckFirst | None = None,
    ) -> None:
        """`clock`: loops wait on it, and health measures their steps and waits with it. `outage`: the cause of an
        expected outage in a few words, None for a bug (bot.runtime.outages). `ack_first`: one-off tasks start
        once Slack's requests let up, within 0.3 s (bot.runtime.ack_first; the serving code tells it of them)."""
        self.clock = clock
        self.outage = outage
        self.ack_first = ack_first or AckFirst(clock=clock)
        self.loops: dict[str, LoopState] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # ---- loops ---------------------------------------------------------------------------------------------

    def every(
        self, name: str, interval: float, step: Callable[[], Awaitable[float | None]], *, step_seconds: float
    ) -> LoopState:
        """Run `step` forever: again after the delay it returns (or `interval`), or sooner when woken. A step
        may run `step_seconds` at most (it is stopped then, and counts as a failure)."""
        state = LoopState(name=name, interval=interval, step=step, step_seconds=step_seconds)
        self.loops[name] = state
        return state

    def wake(self, name: str) -> None:
        state = self.loops.get(name)
        if state is not None:
            state.wake.set()

    def start(self) -> None:
        for state in self.loops.values():
            if state.task is None or state.task.done():
                state.started = state.waiting_since = self.clock.monotonic()
                state.step_started, state.wait = None, 0.0
                state.task = asyncio.get_running_loop().create_task(self._run(state), name=state.name)

    async def _run(self, state: LoopState) -> None:
        while not self._closing:
            state.step_started = self.clock.monotonic()
            try:
                delay = await self._step(state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # An outage must never end a loop: say so in one line, back off, go on. A bug gets its traceback.
                state.failures += 1
                delay = min(MAX_BACKOFF_SECONDS, state.interval * (2 ** min(state.failures - 1, 6)))
                self._failed(state, exc, delay)
            else:
                state.last_ok = self.clock.monotonic()
                state.failures = 0
                state.last_error = None
            finally:
                state.step_started = None
            state.wait = delay
            state.waiting_since = self.clock.monotonic()
            if self._closing:
                break
            state.wake.clear()
            await self.clock.sleep(delay, state.wake)

    async def _step(self, state: LoopState) -> float:
        bound = asyncio.timeout(state.step_seconds)
        try:
            async with bound:
                delay = await state.step()
        except TimeoutError:
            if bound.expired():
                raise StepOverrun(f"a step took longer than its bound of {state.step_seconds:.0f} s") from None
            raise
        return delay if delay is not None else state.interval

    def _failed(self, state: LoopState, exc: Exception, delay: float) -> None:
        cause = str(exc) if isinstance(exc, StepOverrun) else self.outage(exc)
        before, state.last_error = state.last_error, (cause or f"{type(exc).__name__}: {exc}")[:300]
        if cause is not None:
            log.warning("%s: %s; again in %.1f s", state.name, cause, delay)
        else:
            # Not an outage we know of: a bug. Its traceback once; the same bug again is a line.
            traceback = state.last_error != before
            log.error("%s failed (%s); again in %.1f s", state.name, state.last_error, delay, exc_info=traceback)

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
        task = asyncio.get_running_loop().create_task(self._after_acks(coro), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    async def _after_acks(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            await self.ack_first.turn()
        except BaseException:  # cancelled before it started (shutdown)
            coro.close()
            raise
        return await coro

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        cause = self.outage(exc)
        if cause is not None:
            log.warning("background task %s: %s", task.get_name(), cause)
        else:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

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


class StepOverrun(Exception):
    """A loop's step ran past its bound and was stopped."""
