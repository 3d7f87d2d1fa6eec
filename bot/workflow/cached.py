"""A DdmGateway whose reads are remembered for a few seconds: what the form shows and checks.

DDM allows 60 calls a minute per user and the bot keeps to DDM_CALLS_PER_MINUTE of them. One person's form asks
the same questions several times (type-ahead, step 1, step 2, its check, create) and several people ask the same
lists; remembered answers make a form cost a handful of calls instead of a dozen. What decides a restore is
asked again, live, by the re-validation just before the POST (which uses the uncached gateway), so an answer a
few seconds old can only ever make the form more hopeful than the POST, never make a POST happen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from bot.ports import DdmGateway
from bot.restore.facts import Instance, JobReport, SourceDataNode, SubmitOutcome, TargetCandidate
from bot.restore.mapping import Candidate
from bot.restore.plan import RestorePlan
from bot.restore.timeparse import Window
from bot.restore.verification import SchemaDataNodes, TargetDetails

T = TypeVar("T")
READ_CACHE_SECONDS = 20.0


class CachedReads:
    """Remembers each read's answer for `seconds`; callers asking the same thing meanwhile share one call."""

    def __init__(self, seconds: float = READ_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]  # type: ignore[no-any-return]
            value = await load()  # a failure is not remembered: the next asker tries again
            self._values[key] = (self.clock(), value)
            if len(self._values) > 1000:
                self._forget_stale()
            return value

    def _fresh(self, key: Hashable) -> tuple[float, Any] | None:
        hit = self._values.get(key)
        return hit if hit is not None and self.clock() - hit[0] < self.seconds else None

    def _forget_stale(self) -> None:
        now = self.clock()
        for key, (at, _value) in list(self._values.items()):
            if now - at >= self.seconds:
                del self._values[key]
                self._locks.pop(key, None)


class CachedDdm:
    """The DdmGateway for people's forms: reads remembered briefly, everything else passed through."""

    def __init__(
        self, ddm: DdmGateway, *, seconds: float = READ_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ddm = ddm
        self.reads = CachedReads(seconds, clock)

    @property
    def region(self) -> str:
        return self.ddm.region

    @property
    def project_id(self) -> str:
        return self.ddm.project_id

    async def prepare(self, calls: int = 1) -> None:
        await self.ddm.prepare(calls)

    async def instances(self) -> list[Instance]:
        return await self.reads.get(("instances",), self.ddm.instances)

    async def windows(self, source_id: str) -> list[Window]:
        return await self.reads.get(("windows", source_id), lambda: self.ddm.windows(source_id))

    async def targets(self, source_id: str) -> list[TargetCandidate]:
        return await self.reads.get(("targets", source_id), lambda: self.ddm.targets(source_id))

    async def source_data_nodes(self, source_id: str, restore_time_ms: int) -> list[SourceDataNode]:
        return await self.reads.get(
            ("nodes", source_id, restore_time_ms), lambda: self.ddm.source_data_nodes(source_id, restore_time_ms)
        )

    async def data_node_candidates(
        self, source_id: str, *, target_id: str, source_node_id: str, restore_time_ms: int
    ) -> list[Candidate]:
        return await self.reads.get(
            ("candidates", source_id, target_id, source_node_id, restore_time_ms),
            lambda: self.ddm.data_node_candidates(
                source_id, target_id=target_id, source_node_id=source_node_id, restore_time_ms=restore_time_ms
            ),
        )

    async def submit(self, plan: RestorePlan) -> SubmitOutcome:
        return await self.ddm.submit(plan)

    async def job(self, job_id: str) -> JobReport:
        return await self.ddm.job(job_id)

    async def jobs(self, start_ms: int, end_ms: int) -> list[JobReport]:
        return await self.ddm.jobs(start_ms, end_ms)

    async def instance_details(self, instance_id: str) -> TargetDetails:
        return await self.ddm.instance_details(instance_id)  # what verifies a restore is always read live

    async def schema_data_nodes(self, instance_id: str) -> SchemaDataNodes:
        return await self.ddm.schema_data_nodes(instance_id)
