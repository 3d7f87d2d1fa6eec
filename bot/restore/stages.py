"""The stage rule: approvals count in stages, in order, each needing its number of approvals.

One rule for everyone who asks: the policy (whose turn it is, what the card shows), the workflow (which stage a
click counts for, what the thread says) and the store, which enforces it under the request's lock. The rule of a
request is its frozen flow's (bot.restore.flow); a request without one has one stage of its required approvals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.restore.approval import Approval
from bot.restore.notices import ParamValue


@dataclass(frozen=True)
class StageRule:
    required: tuple[int, ...]  # how many approvals each stage needs, in order (1-based stage numbers)

    def counts(self, approvals: Sequence[Approval]) -> tuple[int, ...]:
        """The approvals counted so far in each stage."""
        return tuple(sum(1 for a in approvals if a.stage == n) for n in range(1, len(self.required) + 1))

    def current(self, approvals: Sequence[Approval]) -> int | None:
        """The first stage still short of approvals; None when every stage is complete."""
        for number, (count, needed) in enumerate(zip(self.counts(approvals), self.required, strict=True), start=1):
            if count < needed:
                return number
        return None

    def accepts(self, approvals: Sequence[Approval], stage: int) -> bool:
        """May one more approval count for `stage`? Only for the current one: every earlier stage complete, this
        one short."""
        return self.current(approvals) == stage

    def complete(self, approvals: Sequence[Approval]) -> bool:
        return self.current(approvals) is None

    def progress(self, approvals: Sequence[Approval], stage: int) -> dict[str, ParamValue]:
        """Where `stage` stands after `approvals`, for the thread's approval notice."""
        count, needed = self.counts(approvals)[stage - 1], self.required[stage - 1]
        return {"stage": stage, "stage_count": count, "stage_required": needed, "stage_done": int(count >= needed)}
