"""Publishes the stale App Homes (bot.slack.home): each is claimed in the store with a lease, so every replica runs
this loop and each change's Home is published once; a replica that dies holding one is taken over when its lease
runs out. One Home per step, so a step is one publish within its lease. Slack errors back off (honouring 429
Retry-After) with one log line, never given up: the Home stays stale until it is published."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.errors import StoreUnavailable
from bot.ports import RequestRepository, StaleHome
from bot.slack.home import HomePublisher

log = logging.getLogger(__name__)
FIRST_RETRY_SECONDS = 1.0  # then doubling
# Slack no longer knows the person (users.info, asked first): their Home is not kept, rather than retried forever.
GONE = frozenset({"user_not_found"})
LEASE_SHARE = 0.5  # of the claim's lease, the most one publish may take
MAX_BACKOFF_SECONDS = 300.0


class HomeRefresher:
    def __init__(
        self,
        *,
        home: HomePublisher,
        store: RequestRepository,
        clock: Callable[[], datetime],
        owner: str | None = None,
        lease_seconds: float = 30.0,
        interval: float = 1.0,
    ) -> None:
        self.home = home
        self.store = store
        self.clock = clock
        self.owner = owner or f"homes-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.interval = interval

    async def step(self) -> float:
        """Publish one stale Home; returns the delay until the next step (none while some are waiting)."""
        claimed = await self.store.homes.claim(self.owner, now=self.clock(), lease_seconds=self.lease_seconds)
        for stale in claimed:
            await self._publish(stale)
        return 0.0 if claimed else self.interval

    async def _publish(self, stale: StaleHome) -> None:
        try:
            # Done, or given up, well inside the claim's lease: no other replica publishes it meanwhile, and an
            # older drawing never lands after a newer one.
            async with asyncio.timeout(self.lease_seconds * LEASE_SHARE):
                await self.home.publish(stale.user_id)
        except StoreUnavailable:
            raise  # the loop backs off; the claim runs out and the Home is published later
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            if _error(exc) in GONE:
                log.info("the App Home of %s is no longer kept: Slack answers %s", stale.user_id, _error(exc))
                await self.store.homes.forget(stale.user_id)
                return
            error, delay = _error(exc), _backoff(exc, stale.attempts)
            log.warning(
                "the App Home of %s was not published (%s, try %d); again in %.0f s",
                stale.user_id,
                error,
                stale.attempts,
                delay,
            )
            await self._later(stale, delay, error)
            return
        except Exception:
            log.exception("drawing the App Home of %s failed", stale.user_id)  # a bug: not every second
            await self._later(stale, MAX_BACKOFF_SECONDS, "bug")
            return
        await self.store.homes.published(stale, self.owner, now=self.clock())

    async def _later(self, stale: StaleHome, delay: float, error: str) -> None:
        due = self.clock() + timedelta(seconds=delay)
        await self.store.homes.retry_later(stale.user_id, self.owner, due=due, error=error)

    async def close(self) -> None:
        try:
            await self.store.homes.release(self.owner)
        except Exception:
            log.debug("could not give back the App Homes of %s", self.owner)


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        return str(exc.response.get("error") or "unknown_error")
    return type(exc).__name__


def _backoff(exc: Exception, attempts: int) -> float:
    retry_after = exc.response.headers.get("Retry-After") if isinstance(exc, SlackApiError) else None
    if _error(exc) == "ratelimited" and retry_after:
        return max(1.0, float(retry_after))
    return min(MAX_BACKOFF_SECONDS, FIRST_RETRY_SECONDS * float(2 ** min(max(attempts - 1, 0), 10)))
