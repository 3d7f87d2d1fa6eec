"""One approval of a request: who, when, and which stage it counts for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Approval:
    user_id: str
    at: datetime
    stage: int = 1  # which approval stage it counts for (1 = the first, or the only one)
