"""JobWatcher: follows each submitted restore to its end, and picks up what a restart left behind.

One asyncio task per request. Before each poll the task renews a lease on the request in the store, so with
several replicas one of them polls a job at a time and a dead replica's jobs are taken over when its lease
runs out. UNKNOWN requests are reconciled through the job list instead of being polled.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from bot.huawei.errors import HuaweiError
from bot.restore.request import RequestState, RestoreRequest
from bot.service import RestoreService

log = logging.getLogger(__name__)
S = RequestState
MAX_BACKOFF_SECONDS = 300.0
TROUBLE_AFTER_FAILURES = 6


class JobWatcher:
    def __init__(
        self,
        service: RestoreService,
        *,
        poll_interval: float,
        owner_id: str | None = None,
        reconcile_interval: float | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        self.service = service
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval or poll_interval
        self.owner_id = owner_id or f"watcher-{uuid.uuid4().hex[:12]}"
        # A lease outlives a few missed polls, then another replica may take over.
        self.lease_seconds = max(lease_seconds, poll_interval * 3)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        service.on_running = self.watch

    @property
    def watching(self) -> frozenset[str]:
        return frozenset(self._tasks)

    def watch(self, request: RestoreRequest) -> None:
        if self._closing or request.id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._follow(request.id), name=f"follow {request.id}")
        self._tasks[request.id] = task

        def forget(_task: asyncio.Task[None], request_id: str = request.id) -> None:
            self._tasks.pop(request_id, None)

        task.add_done_callback(forget)

    async def resume(self) -> None:
        """After a start: re-submit APPROVED (never sent), and follow RUNNING and UNKNOWN requests."""
        await self.service.recover_stale_submitting()
        for request in await self.service.store.in_states([S.APPROVED]):
            await self.service.submit(request)
        for request in await self.service.store.in_states([S.RUNNING, S.UNKNOWN]):
            self.watch(request)

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, request_id: str) -> None:
        store = self.service.store
        failures = 0
        try:
            while True:
                if not await store.take_lease(
                    request_id, owner=self.owner_id, now=self.service.clock(), seconds=self.lease_seconds
                ):
                    # Another replica follows it; the sweeper hands it back to us if that replica dies.
                    return
                request = await store.get(request_id)
                if request is None or request.is_final:
                    return
                delay = self.poll_interval
                try:
                    if request.state is S.UNKNOWN:
                        settled = await self.service.reconcile(request)
                        delay = self.reconcile_interval
                        if settled is not None and settled.is_final:
                            return
                    elif request.state is S.RUNNING and request.job_id:
                        job = await self.service.ddm.job(request.job_id)
                        if await self.service.record_job(request, job) is not None:
                            return
                    else:
                        return
                    failures = 0
                except HuaweiError as exc:
                    failures += 1
                    delay = min(MAX_BACKOFF_SECONDS, self.poll_interval * (2 ** min(failures, 8)))
                    log.warning("following %s: %s (retry in %.0f s)", request_id, exc, delay)
                    if failures == TROUBLE_AFTER_FAILURES:
                        # Say so once, in the thread: people must not think the restore is quietly progressing.
                        await self.service.tell_follow_trouble(request, str(exc))
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following %s stopped unexpectedly; the sweeper will pick it up again", request_id)
        finally:
            try:
                await store.release_lease(request_id, owner=self.owner_id)
            except Exception:
                log.debug("could not release lease of %s", request_id)
