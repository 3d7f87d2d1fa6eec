"""The follow-up review of an urgent (break-glass) request: who reviews, by when, and whether it was done.

Set when the request is made (its environment's urgent rule), due when the request ends, reminded once when
overdue, done when a reviewer presses Reviewed. Its moves are in bot.restore.lifecycle (REVIEW_MOVES); who may
review is ApprovalPolicy.can_review. Data only: imports nothing of ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Review:
    within: timedelta
    user_ids: frozenset[str] = frozenset()
    group_ids: frozenset[str] = frozenset()
    due_at: datetime | None = None
    reminded_at: datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None

    def to_json(self) -> str:
        """What is stored when the request is made (the rest are columns of their own)."""
        within_ms = int(self.within.total_seconds() * 1000)
        return json.dumps({"within_ms": within_ms, "users": sorted(self.user_ids), "groups": sorted(self.group_ids)})

    @classmethod
    def from_json(cls, raw: str) -> Review:
        data = json.loads(raw)
        return cls(
            timedelta(milliseconds=int(data["within_ms"])),
            frozenset(data.get("users") or ()),
            frozenset(data.get("groups") or ()),
        )

    def with_times(
        self,
        *,
        due_at: datetime | None,
        reminded_at: datetime | None,
        reviewed_by: str | None,
        reviewed_at: datetime | None,
    ) -> Review:
        return replace(self, due_at=due_at, reminded_at=reminded_at, reviewed_by=reviewed_by, reviewed_at=reviewed_at)

    @property
    def mentions(self) -> str:
        """ "<@U1> <!subteam^S1>": mentions that notify every reviewer."""
        return " ".join(
            [*(f"<@{u}>" for u in sorted(self.user_ids)), *(f"<!subteam^{g}>" for g in sorted(self.group_ids))]
        )

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.reviewed_at is None and now >= self.due_at
