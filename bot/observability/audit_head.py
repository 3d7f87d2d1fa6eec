"""The audit chain's head in the log, once an hour: `audit head seq=… hash=…` at INFO.

Logs are shipped out of the database's reach, so each line is a head kept elsewhere: `ddm-restore-bot audit
verify --expect-head seq=… hash=…` later shows whether the chain still holds it (records cut off its end or a
chain rebuilt from some record on, which the chain and the head table alone cannot show). A supervised loop
(bot.runtime.supervisor); its first line comes at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.errors import StoreUnavailable
from bot.store.audit_chain import AuditHead

log = logging.getLogger(__name__)
HEAD_LOG_SECONDS = 3600.0
RETRY_SECONDS = 60.0  # after an outage: sooner than the hour, so that the anchor has no gap of two


class AuditHeadLog:
    """`step` logs the head and asks the supervisor for the next one in `interval` seconds."""

    def __init__(
        self,
        read: Callable[[], Awaitable[AuditHead | None]],
        *,
        interval: float = HEAD_LOG_SECONDS,
        retry: float = RETRY_SECONDS,
    ) -> None:
        self.read = read
        self.interval = interval
        self.retry = min(retry, interval)

    async def step(self) -> float:
        try:
            head = await self.read()
        except StoreUnavailable as exc:
            # An expected outage: one line, no traceback, and the loop goes on.
            log.warning("audit head: the database is unavailable (%s); trying again in %.0f s", exc.detail, self.retry)
            return self.retry
        if head is None:
            log.warning("audit head: the head row is missing (someone deleted it); run `ddm-restore-bot audit verify`")
            return self.interval
        log.info("audit head seq=%s hash=%s", head.seq or 0, head.hash)
        return self.interval
