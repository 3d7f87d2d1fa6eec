"""Choices for the modal, loaded live from DDM and turned into domain values.

Type-ahead asks for the instance list on every keystroke, so lists are cached for a few seconds; anything
that decides a restore (windows, availability) is asked again when the plan is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.huawei.errors import HuaweiError
from bot.huawei.models import DdmInstance, RelatedDataNode, RestorableInstance, TimeWindow
from bot.ports import DdmGateway
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


@dataclass(frozen=True)
class SourceNode:
    id: str
    name: str
    detail: str


class ChoicesUnavailable(Exception):
    """DDM could not answer; the message is fit for the person filling in the form."""


async def _asked(call: Awaitable[T]) -> T:
    # The form's code speaks only of choices: whatever the Huawei client raised becomes this one error.
    try:
        return await call
    except HuaweiError as exc:
        raise ChoicesUnavailable(str(exc)) from None


class RestoreChoices:
    def __init__(self, ddm: DdmGateway, *, cache_seconds: float = LIST_CACHE_SECONDS) -> None:
        self.ddm = ddm
        self._instances: _TtlCache[list[DdmInstance]] = _TtlCache(cache_seconds)
        self._targets: _TtlCache[list[RestorableInstance]] = _TtlCache(cache_seconds)

    async def instances(self, query: str = "") -> list[DdmInstance]:
        found = await self._instances.get("all", lambda: _asked(self.ddm.list_instances()))
        needle = query.strip().lower()
        if not needle:
            return sorted(found, key=lambda i: i.name.lower())
        return sorted(
            (i for i in found if needle in i.name.lower() or needle in i.id.lower()), key=lambda i: i.name.lower()
        )

    async def resolve_instance(self, text: str) -> DdmInstance | None:
        """An instance by exact id, or by unique name (case-insensitive)."""
        found = await self._instances.get("all", lambda: _asked(self.ddm.list_instances()))
        wanted = text.strip()
        by_id = next((i for i in found if i.id == wanted), None)
        if by_id:
            return by_id
        named = [i for i in found if i.name.lower() == wanted.lower()]
        return named[0] if len(named) == 1 else None  # an ambiguous name resolves to nothing, never a guess

    async def resolve_target(self, source_id: str, text: str) -> RestorableInstance | list[RestorableInstance] | None:
        """A restore target by exact id or unique name; a list when the name is ambiguous."""
        candidates = await self.targets(source_id)
        wanted = text.strip()
        by_id = next((t for t in candidates if t.instance_id == wanted), None)
        if by_id:
            return by_id
        named = [t for t in candidates if t.instance_name.lower() == wanted.lower()]
        if len(named) > 1:
            return named
        return named[0] if named else None

    async def targets(self, source_id: str) -> list[RestorableInstance]:
        return await self._targets.get(source_id, lambda: _asked(self.ddm.restorable_instances(source_id)))

    async def windows(self, source_id: str) -> list[Window]:
        return windows_of(await _asked(self.ddm.restorable_windows(source_id)))

    async def source_nodes(self, source_id: str, restore_time_ms: int) -> list[SourceNode]:
        related = await _asked(self.ddm.related_data_nodes(source_id, restore_time_ms))
        return [
            SourceNode(id=n.instance_id, name=n.instance_name, detail=_node_detail(n))
            for n in related.related_data_nodes
        ]

    async def candidates(
        self, source_id: str, *, target_id: str, source_node_id: str, restore_time_ms: int
    ) -> list[Candidate]:
        nodes = await _asked(
            self.ddm.restorable_data_nodes(
                source_id,
                target_instance_id=target_id,
                source_dn_instance_id=source_node_id,
                restore_time=restore_time_ms,
            )
        )
        return [
            Candidate(id=n.instance_id, name=n.instance_name, available=n.available, reason=n.unavailable_reason)
            for n in nodes
        ]


def windows_of(answer: list[TimeWindow]) -> list[Window]:
    """DDM's restorable windows as the domain's epoch-ms windows."""
    return [Window(epoch_ms_of(w.start_time), epoch_ms_of(w.end_time)) for w in answer]


def _node_detail(node: RelatedDataNode) -> str:
    parts = []
    if node.engine_name or node.version:
        parts.append(" ".join(p for p in (node.engine_name, node.version) if p))
    if node.data_volume_size is not None:
        size = node.data_volume_size
        parts.append(f"{int(size) if float(size).is_integer() else size} GB")
    return ", ".join(parts) or "data node"
