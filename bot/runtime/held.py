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


class ClaimLost(Exception):
    """The claim ran out and another replica took the work over: this one stopped it."""


async def while_held(
    work: Coroutine[Any, Any, T], *, renew: Callable[[], Awaitable[bool]], every: float, sleep: Sleep, what: str
) -> T:
    """Run `work`, calling `renew` every `every` seconds until it ends; when `renew` answers False the work is
    cancelled and ClaimLost raised. A database that can't be reached to renew is logged (one line) and tried
    again at the next beat: the other replicas can't take the claim over through it either, unless it lasts."""
    task = asyncio.ensure_future(work)
    lost = False

    async def beat() -> None:
        nonlocal lost
        while True:
            await sleep(every)
            try:
                held = await renew()
            except StoreUnavailable as exc:
                log.warning("could not renew the claim on %s: %s", what, exc)
                continue
            if not held:
                lost = True
                log.warning("the claim on %s ran out and another replica took it over; stopping here", what)
                task.cancel()
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
