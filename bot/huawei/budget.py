"""The DDM call budget: at most N calls per credential per calendar minute, shared by every replica.

DDM allows 60 calls a minute per user; the bot keeps to a smaller budget (DDM_CALLS_PER_MINUTE, default 50) so
that people's own console use still fits. Each call takes one slot of a counter per (credential, minute) kept
in the database (bot.store.budget): one atomic statement per slot, so replicas never overshoot together.

When a minute is spent a caller either waits for the next minute or is refused at once: a form load may wait
about a second and a half, the job follower waits for the next minute. The restore POST must not wait once it
is under way, so the gateway reserves its slot ahead (`reserve`) and the POST spends that (`spending`).

Minutes are read from this host's clock: replicas should run NTP (a skew of a second moves a few calls into
the neighbouring minute; the headroom below DDM's 60 absorbs that).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from bot.huawei.errors import BudgetError, BudgetSpent

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
DEFAULT_CALLS_PER_MINUTE = 50
INTERACTIVE_WAIT_SECONDS = 1.5  # a form load: a person is waiting for the options
BACKGROUND_WAIT_SECONDS = 150.0  # the follower: the next minute, and one more if other replicas took it all
# A reservation taken this close to the end of its minute also holds a slot in the next minute, so that the
# POST a moment later is covered whichever side of the boundary it lands on.
RESERVATION_SPAN_MS = 15_000
PRUNE_EVERY_MS = 10 * MINUTE_MS
KEEP_MINUTES_MS = 60 * MINUTE_MS


class BudgetStorage(Protocol):
    """Where the counters live (bot.store.budget.BudgetTable on the `ddm_call_budget` table)."""

    async def take(self, credential: str, minute_ms: int, limit: int, count: int = 1) -> bool:
        """Count `count` calls in `minute_ms`, all or none, unless that would pass `limit`; True when counted."""
        ...

    async def prune(self, before_ms: int) -> int:
        """Forget the minutes that started before `before_ms`; returns how many rows went."""
        ...


def credential_key(*, ak: str | None = None, username: str | None = None, domain: str | None = None) -> str:
    """Who DDM counts the calls of, without a secret: a hash of the access key, or of the IAM user."""
    material = f"ak:{ak}" if ak else f"iam:{(domain or '').lower()}/{(username or '').lower()}"
    prefix = "ak-" if ak else "iam-"
    return prefix + hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def minute_of(epoch_ms: int) -> int:
    return epoch_ms - epoch_ms % MINUTE_MS


@dataclass(frozen=True)
class Reservation:
    """Slots already counted for `calls` calls to be made shortly, in each of `minutes` (their start, epoch ms)."""

    minutes: frozenset[int]
    calls: int = 1

    def covers(self, epoch_ms: int) -> bool:
        return minute_of(epoch_ms) in self.minutes


@dataclass
class _Spending:
    """How the calls made inside a `waiting`/`spending` block pay: a reservation first, then waiting this long."""

    max_wait: float
    reservation: Reservation | None = None
    left: int = 0  # calls the reservation still pays for


_SPENDING: contextvars.ContextVar[_Spending | None] = contextvars.ContextVar("ddm_budget_spending", default=None)


@dataclass
class CallBudget:
    """The policy over a BudgetStorage: one per credential (per process); `before_call` is the httpx hook."""

    storage: BudgetStorage
    credential: str
    per_minute: int = DEFAULT_CALLS_PER_MINUTE
    default_wait: float = INTERACTIVE_WAIT_SECONDS  # for calls made outside any `waiting` block
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _spent_minute: int | None = field(default=None, init=False)  # known spent: no need to ask the database
    _pruned_ms: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.per_minute < 1:
            raise ValueError("per_minute must be at least 1")

    # ---- how calls pay --------------------------------------------------------------------------------------

    @contextmanager
    def waiting(self, seconds: float) -> Iterator[None]:
        """Calls inside wait at most `seconds` for a slot, then fail with BudgetSpent."""
        token = _SPENDING.set(_Spending(max_wait=seconds))
        try:
            yield
        finally:
            _SPENDING.reset(token)

    @contextmanager
    def spending(self, reservation: Reservation | None, *, then_wait: float = 0.0) -> Iterator[None]:
        """The first call inside uses `reservation` (while it covers the moment); any further call (a 401's
        repeat) waits at most `then_wait`."""
        token = _SPENDING.set(_Spending(max_wait=then_wait, reservation=reservation, left=1))
        try:
            yield
        finally:
            _SPENDING.reset(token)

    def lend(self, reservation: Reservation) -> None:
        """The calls this task (and the tasks it starts) makes from now on pay with `reservation` first, then
        wait as usual: one write for the re-check before the POST instead of one per call."""
        _SPENDING.set(_Spending(max_wait=self.default_wait, reservation=reservation, left=reservation.calls))

    def current_wait(self) -> float:
        """How long a call made here may wait for a slot (part of the call's deadline: bot.huawei.ddm)."""
        spending = _SPENDING.get()
        return self.default_wait if spending is None else spending.max_wait

    @staticmethod
    def lent() -> bool:
        """Whether calls made here are still paid by a lent reservation."""
        spending = _SPENDING.get()
        return spending is not None and spending.reservation is not None and spending.left > 0

    async def before_call(self, request: httpx.Request) -> None:
        """httpx request hook: every request the DDM client sends (retries, pages and auth repeats too) pays."""
        spending = _SPENDING.get()
        if spending is not None and spending.reservation is not None and spending.left > 0:
            spending.left -= 1
            if spending.reservation.covers(self.now_ms()):
                return
        await self.acquire(max_wait=self.default_wait if spending is None else spending.max_wait)

    # ---- slots ----------------------------------------------------------------------------------------------

    async def acquire(self, *, max_wait: float, count: int = 1) -> int:
        """Take `count` slots (all in one minute), waiting at most `max_wait` seconds for a next minute; returns the slot's minute.

        Raises BudgetSpent when the wait would be longer, and BudgetError when the counters can't be reached
        (no call goes out uncounted: the budget is a promise to the other replicas).
        """
        deadline = time.monotonic() + max_wait
        while True:
            now = self.now_ms()
            minute = minute_of(now)
            if minute != self._spent_minute:
                if await self._take(minute, count):
                    return minute
                if count == 1:  # a bigger batch may fail where one call would still fit
                    self._spent_minute = minute
            wait = (minute + MINUTE_MS - now) / 1000 + 0.005
            if time.monotonic() + wait > deadline:
                raise BudgetSpent(
                    f"DDM is busy: the bot has used its {self.per_minute} DDM calls for this minute "
                    f"(try again in {max(1, round(wait))} s)",
                    retry_in=wait,
                )
            log.info("DDM call budget spent for this minute; waiting %.1f s", wait)
            await self.sleep(wait)

    async def reserve(self, *, max_wait: float, calls: int = 1) -> Reservation:
        """Slots for `calls` calls to be made shortly (the re-check and the restore POST), taken in one write, so
        that those calls never wait."""
        minute = await self.acquire(max_wait=max_wait, count=calls)
        minutes = {minute}
        following = minute + MINUTE_MS
        if following - self.now_ms() < RESERVATION_SPAN_MS and await self._take(following, calls):
            minutes.add(following)
        return Reservation(frozenset(minutes), calls)

    async def _take(self, minute_ms: int, count: int = 1) -> bool:
        try:
            taken = await self.storage.take(self.credential, minute_ms, self.per_minute, count)
        except Exception as exc:  # any database failure: refuse rather than call uncounted
            log.warning("DDM call budget could not be checked: %s", type(exc).__name__)
            raise BudgetError(
                "DDM calls are paused: the bot can't reach its database to count them; try again in a minute"
            ) from exc
        if taken:
            await self._maybe_prune(minute_ms)
        return taken

    async def _maybe_prune(self, minute_ms: int) -> None:
        if minute_ms - self._pruned_ms < PRUNE_EVERY_MS:
            return
        self._pruned_ms = minute_ms
        try:
            await self.storage.prune(minute_ms - KEEP_MINUTES_MS)
        except Exception as exc:  # pruning is housekeeping: the next one will do
            log.warning("old DDM call budget rows could not be pruned: %s", type(exc).__name__)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)
