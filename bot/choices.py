"""Choices for the modal, loaded live from DDM through the DdmGateway, as domain values.

Type-ahead asks for the instance list on every keystroke, so lists are cached for a few seconds; anything
that decides a restore (windows, availability) is asked again when the plan is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from bot.ports import DdmGateway, DdmUnreachable
from bot.restore.facts import Instance, SourceDataNode, TargetCandidate
from bot.restore.mapping import Candidate
from bot.restore.timeparse import Window, epoch_ms_of

T = TypeVar("T")
LIST_CACHE_SECONDS = 20.0


class _TtlCache(Generic[T]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._values: dict[str, tuple[float, T]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit and time.monotonic() - hit[0] < self.seconds:
            return hit[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._values.get(key)
            if hit and time.monotonic() - hit[0] < self.seconds:
                return hit[1]
            value = await load()
            self._values[key] = (time.monotonic(), value)
            return value


class ChoicesUnavailable(Exception):
    """DDM could not answer; the message is fit for the person filling in the form."""


async def _asked(call: Awaitable[T]) -> T:
    # The form's code speaks only of choices: the gateway's one error becomes this one.
    try:
        return await call
    except DdmUnreachable as exc:
        raise ChoicesUnavailable(exc.message) from None


class RestoreChoices:
    def __init__(self, ddm: DdmGateway, *, cache_seconds: float = LIST_CACHE_SECONDS) -> None:
        self.ddm = ddm
        self._instances: _TtlCache[list[Instance]] = _TtlCache(cache_seconds)
        self._targets: _TtlCache[list[TargetCandidate]] = _TtlCache(cache_seconds)

    async def instances(self, query: str = "") -> list[Instance]:
        found = await self._instances.get("all", lambda: _asked(self.ddm.instances()))
        needle = query.strip().lower()
        if not needle:
            return sorted(found, key=lambda i: i.name.lower())
        return sorted(
            (i for i in found if needle in i.name.lower() or needle in i.id.lower()), key=lambda i: i.name.lower()
        )

    async def resolve_instance(self, text: str) -> Instance | None:
        """An instance by exact id, or by unique name (case-insensitive)."""
        found = await self._instances.get("all", lambda: _asked(self.ddm.instances()))
        wanted = text.strip()
        by_id = next((i for i in found if i.id == wanted), None)
        if by_id:
            return by_id
        named = [i for i in found if i.name.lower() == wanted.lower()]
        return named[0] if len(named) == 1 else None  # an ambiguous name resolves to nothing, never a guess

    async def resolve_target(self, source_id: str, text: str) -> TargetCandidate | list[TargetCandidate] | None:
        """A restore target by exact id or unique name; a list when the name is ambiguous."""
        candidates = await self.targets(source_id)
        wanted = text.strip()
        by_id = next((t for t in candidates if t.id == wanted), None)
        if by_id:
            return by_id
        named = [t for t in candidates if t.name.lower() == wanted.lower()]
        if len(named) > 1:
            return named
        return named[0] if named else None

    async def targets(self, source_id: str) -> list[TargetCandidate]:
        return await self._targets.get(source_id, lambda: _asked(self.ddm.targets(source_id)))

    async def windows(self, source_id: str) -> list[Window]:
        return await _asked(self.ddm.windows(source_id))

    async def source_nodes(self, source_id: str, restore_time_ms: int) -> list[SourceDataNode]:
        return await _asked(self.ddm.source_data_nodes(source_id, restore_time_ms))

    async def candidates(
        self, source_id: str, *, target_id: str, source_node_id: str, restore_time_ms: int
    ) -> list[Candidate]:
        return await _asked(
            self.ddm.data_node_candidates(
                source_id, target_id=target_id, source_node_id=source_node_id, restore_time_ms=restore_time_ms
            )
        )


# ---- until the workflow reshape lands: bot/service.py still reads windows through the DdmClient ------------


class _TimedWindow(Protocol):
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime: ...


def windows_of(answer: Sequence[_TimedWindow]) -> list[Window]:
    """DDM's restorable windows as the domain's (the gateway does this itself; remove with bot/service.py)."""
    return [Window(epoch_ms_of(w.start_time), epoch_ms_of(w.end_time)) for w in answer]
