"""Housekeeping: freeze the flow of pending requests made before flows were frozen (until that once succeeds),
expire pending requests on time, remind and escalate the ones that wait (bot.workflow.remind),
and take up work nobody is doing (a submit whose replica died before or during the POST)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.ports import RequestRepository
from bot.restore.request import RequestState
from bot.workflow.desk import RestoreDesk
from bot.workflow.remind import Reminders
from bot.workflow.submit import Submitter

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        *,
        store: RequestRepository,
        desk: RestoreDesk,
        submitter: Submitter,
        clock: Callable[[], datetime],
        interval: float,
        spawn: Callable[[Coroutine[Any, Any, Any], str], Awaitable[None] | object],
        reminders: Reminders | None = None,
    ) -> None:
        self.store = store
        self.desk = desk
        self.submitter = submitter
        self.clock = clock
        self.interval = interval
        self._spawn = spawn
        self.reminders = reminders
        # Until the first sweep that gets through: a database down at start must not leave old pending requests
        # to be decided by whatever the configuration says when they are clicked.
        self.flows_frozen = False

    async def step(self) -> float:
        """One sweep; returns the delay until the next (early for the next expiry, so cards turn on time)."""
        if not self.flows_frozen:
            await self.desk.freeze_flows()
            self.flows_frozen = True
        expired = await self.desk.expire_due()
        if expired:
            log.info("expired %s", ", ".join(expired))
        reminded = await self.desk.remind_overdue_reviews()
        if reminded:
            log.info("review overdue: %s", ", ".join(reminded))
        if self.reminders is not None and (sent := await self.reminders.send_due()):
            log.info("sent %s", "; ".join(sent))
        await self.submitter.recover_stale_submitting()
        for request in await self.submitter.stale_approved():
            # Its approver's replica died before submitting. Only one caller can win APPROVED → SUBMITTING.
            self._spawn(self.submitter.submit(request), f"submit {request.id}")
        delay = self.interval
        wake = [await self.store.next_expiry()]
        if self.reminders is not None:
            wake.append(await self.reminders.next_due())
        for at in wake:
            if at is not None:
                delay = max(0.05, min(delay, (at - self.clock()).total_seconds() + 0.05))
        return delay

    async def resume(self) -> None:
        """At start: submit what was approved but never sent (each submit re-checks the approval's age)."""
        for request in await self.store.in_states([RequestState.APPROVED]):
            self._spawn(self.submitter.submit(request), f"submit {request.id}")
