"""Progress milestones of a running restore: the few moments its thread hears about (not every percent)."""

from __future__ import annotations

MILESTONES = (25, 50, 75)


def milestone_reached(before: int | None, after: int) -> int | None:
    """The highest milestone `after` reaches that `before` had not, or None. A job seen jumping from 10 % to 80 %
    is told once, at 75 %; progress that goes back reaches nothing."""
    low = -1 if before is None else before
    reached = [m for m in MILESTONES if low < m <= after]
    return reached[-1] if reached else None
