"""What the verification asks of a restored target (bot.verify_sql.probe implements it): its SQL checks."""

from __future__ import annotations

from typing import Protocol

from bot.errors import DependencyError
from bot.restore.verification import CheckResult, SqlCheck


class TargetUnreachable(DependencyError):
    """The SQL checks could not run on the target (no connection, the account refused): try again later. The
    message is fit for people and holds no secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TargetProbe(Protocol):
    """Runs an environment's SQL checks on a restored target with its read-only account
    (`bot.verify_sql.probe.MySqlProbe` is the real one)."""

    async def run(self, host: str, port: int, check: SqlCheck, *, limit_seconds: float) -> CheckResult:
        """One check within `limit_seconds`: its number judged, or why it has none (the query failed, took too
        long). Raises TargetUnreachable when it could not be run at all."""
        ...
