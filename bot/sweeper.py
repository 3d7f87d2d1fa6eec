"""Housekeeping loop: expires pending requests on time and adopts work nobody is doing.

Runs at start (so requests whose TTL passed during downtime expire at once) and then every few seconds.
"""

from __future__ import annotations

import asyncio
import logging

from bot.jobs import JobWatcher
from bot.restore.request import RequestState
from bot.service import RestoreService

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, service: RestoreService, watcher: JobWatcher, *, interval: float = 15.0) -> None:
        self.service = service
        self.watcher = watcher
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._submits: set[asyncio.Task[object]] = set()

    async def sweep_once(self) -> None:
        expired = await self.service.expire_due()
        if expired:
            log.info("expired %s", ", ".join(expired))
        for request in await self.service.recover_stale_submitting():
            self.watcher.watch(request)
        for request in await self.service.store.in_states([RequestState.RUNNING, RequestState.UNKNOWN]):
            if request.id not in self.watcher.watching:
                self.watcher.watch(request)  # its task returns at once if another replica holds the lease
        for request in await self.service.stale_approved():
            # Its approver's replica died before submitting. Only one caller can win APPROVED → SUBMITTING.
            task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self.service.submit(request))
            self._submits.add(task)
            task.add_done_callback(self._submits.discard)
        await self.service.announce_unannounced()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sweeper")

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sweep failed; trying again in %.0f s", self.interval)
            await self._sleep_until_next()

    async def _sleep_until_next(self) -> None:
        # Wake early for the next expiry so cards turn EXPIRED on time even with a long interval.
        delay = self.interval
        next_expiry = await self.service.store.next_expiry()
        if next_expiry is not None:
            until = (next_expiry - self.service.clock()).total_seconds()
            delay = max(0.05, min(delay, until + 0.05))
        await asyncio.sleep(delay)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._submits:
            # A submit may be past its POST: let it finish recording the answer.
            await asyncio.wait(set(self._submits), timeout=60)
