"""Work done under a claim that another replica takes over once it runs out: the claim is renewed while the work
runs, however long an outside call keeps it waiting, and the work stops the moment the claim is lost.

Why: a claim's lease is short (so that a dead replica's work is taken over soon), while one Slack call with its
retries may outlast it (bot.runtime.bounds). Renewed only between calls, a slow call would let the claim run out
under the live replica, and then two replicas would post the same message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from bot.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
BEATS_PER_LEASE = 3  # renewals are due every third of the lease: two can fail and the claim still holds


class ClaimLost(Exception):
    """The claim ran out and another replica took the work over: this one stopped it."""


async def while_held(
    work: Coroutine[Any, Any, T],
    *,
    renew: Callable[[], Awaitable[bool]],
    every: float,
    sleep: Sleep,
    what: str,
) -> T:
    """Run `work`, calling `renew` every `every` seconds (a third of the lease) until it ends. When `renew` answers
    False (another replica took the claim), or has failed for a whole lease (this replica can't reach the
    database, the others may: they take the claim over once it runs out), the work is cancelled and ClaimLost
    raised. A single failed renewal is logged in one line and tried again at the next beat."""
    task = asyncio.ensure_future(work)
    lost = False

    def stop(why: str) -> None:
        nonlocal lost
        lost = True
        log.warning("the claim on %s %s; stopping here", what, why)
        task.cancel()

    async def beat() -> None:
        failures = 0
        while not task.done():
            await sleep(every)
            try:
                held = await renew()
            except StoreUnavailable as exc:
                failures += 1
                log.warning("could not renew the claim on %s (%d of %d): %s", what, failures, BEATS_PER_LEASE, exc)
            except Exception:
                failures += 1
                log.exception("renewing the claim on %s failed (%d of %d)", what, failures, BEATS_PER_LEASE)
            else:
                if not held:
                    stop("ran out and another replica took it over")
                    return
                failures = 0
            if failures >= BEATS_PER_LEASE:
                stop("could not be renewed for a whole lease: another replica may take it over")
                return

    beating = asyncio.ensure_future(beat())
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if lost and (current is None or current.cancelling() == 0):  # the beat stopped it, not our own caller
            raise ClaimLost(what) from None
        raise
    finally:
        beating.cancel()
        await asyncio.wait([beating])  # no renewal is under way once this returns (a cancel of ours still stops it)
