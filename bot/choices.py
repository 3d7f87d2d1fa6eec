"""Choices for the modal, loaded live from DDM through the DdmGateway, as domain values.

Anything that decides a restore is asked again, live, by the re-validation before the POST.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from bot.errors import DependencyError
from bot.ports import DdmGateway, DdmUnreachable
from bot.restore.facts import Instance, SourceDataNode, TargetCandidate
from bot.restore.mapping import Candidate
from bot.restore.timeparse import Window

T = TypeVar("T")


class ChoicesUnavailable(DependencyError):
    """DDM could not answer; the message is fit for the person filling in the form."""


async def _asked(call: Awaitable[T]) -> T:
    # The form's code speaks only of choices: the gateway's one error becomes this one.
    try:
        return await call
    except DdmUnreachable as exc:
        raise ChoicesUnavailable(exc.message) from None


class RestoreChoices:
    """Over the form's gateway (bot.workflow.cached.CachedDdm: type-ahead asks on every keystroke, and several
    people ask for the same lists, so answers are remembered for a few seconds)."""

    def __init__(self, ddm: DdmGateway) -> None:
        self.ddm = ddm

    async def instances(self, query: str = "") -> list[Instance]:
        found = await _asked(self.ddm.instances())
        needle = query.strip().lower()
        if not needle:
            return sorted(found, key=lambda i: i.name.lower())
        return sorted(
            (i for i in found if needle in i.name.lower() or needle in i.id.lower()), key=lambda i: i.name.lower()
        )

    async def resolve_instance(self, text: str) -> Instance | None:
        """An instance by exact id, or by unique name (case-insensitive)."""
        found = await _asked(self.ddm.instances())
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
        return await _asked(self.ddm.targets(source_id))

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
