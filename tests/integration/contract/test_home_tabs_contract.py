"""Who has the App Home open and whose is stale, on every store (memory, SQLite, PostgreSQL): one row per person
however many changes; each stale Home is claimed by one owner at a time; a change marked while a publish is under
way keeps it stale; a lease that runs out is taken over; only people who opened the Home are marked."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.ports import RequestRepository
from tests.support.stores import NOW

LEASE = 30.0


async def claim(repo: RequestRepository, owner: str, *, at: timedelta = timedelta(0), limit: int = 10) -> list[str]:
    return [home.user_id for home in await repo.homes.claim(owner, now=NOW + at, lease_seconds=LEASE, limit=limit)]


async def test_only_viewers_are_marked_and_many_changes_make_one_stale_home(repo: RequestRepository) -> None:
    await repo.homes.opened("UCAROL", now=NOW)
    await repo.homes.opened("UCAROL", now=NOW)  # opened again: still one viewer
    await repo.homes.opened("UALICE", now=NOW)
    assert await repo.homes.viewers() == ["UALICE", "UCAROL"]
    assert await claim(repo, "a") == []  # opened, not changed since: nothing to publish
    for _ in range(3):
        await repo.homes.mark_stale({"UCAROL", "UDAN"}, now=NOW)  # UDAN never opened it
    assert await repo.homes.viewers() == ["UALICE", "UCAROL"]
    [home] = await repo.homes.claim("a", now=NOW, lease_seconds=LEASE, limit=10)
    assert (home.user_id, home.attempts) == ("UCAROL", 1)
    await repo.homes.published(home, "a", now=NOW)
    assert await claim(repo, "a") == [] and await claim(repo, "b") == []


async def test_two_owners_racing_each_get_a_home_once(repo: RequestRepository) -> None:
    users = [f"U{n:02d}" for n in range(12)]
    for user in users:
        await repo.homes.opened(user, now=NOW)
    await repo.homes.mark_stale(users, now=NOW)
    taken: list[str] = []
    for round_ in range(6):  # a claimant that lost the race for some gets fewer: the next round takes them
        got = await asyncio.gather(*(claim(repo, f"{owner}{round_}", limit=4) for owner in "abcd"))
        taken += [user for each in got for user in each]
    assert sorted(taken) == users  # each by exactly one owner
    assert await claim(repo, "e", at=timedelta(seconds=LEASE - 1)) == []  # all held still


async def test_a_change_during_a_publish_keeps_the_home_stale(repo: RequestRepository) -> None:
    await repo.homes.opened("UCAROL", now=NOW)
    await repo.homes.mark_stale(["UCAROL"], now=NOW)
    [home] = await repo.homes.claim("a", now=NOW, lease_seconds=LEASE)
    await repo.homes.mark_stale(["UCAROL"], now=NOW)  # the Home being drawn may miss this change
    await repo.homes.published(home, "a", now=NOW)
    [again] = await repo.homes.claim("b", now=NOW, lease_seconds=LEASE)  # due at once, for anyone
    assert again.version > home.version
    await repo.homes.published(again, "b", now=NOW)
    assert await claim(repo, "a") == []


async def test_a_lease_that_runs_out_is_taken_over_and_a_retry_waits(repo: RequestRepository) -> None:
    await repo.homes.opened("UCAROL", now=NOW)
    await repo.homes.mark_stale(["UCAROL"], now=NOW)
    assert await claim(repo, "a") == ["UCAROL"]
    assert await claim(repo, "b", at=timedelta(seconds=LEASE - 1)) == []
    [taken] = await repo.homes.claim("b", now=NOW + timedelta(seconds=LEASE), lease_seconds=LEASE)
    assert (taken.user_id, taken.attempts) == ("UCAROL", 2)
    # Slack failed: not before the backoff's end, and a new change does not cut it short.
    await repo.homes.retry_later("UCAROL", "b", due=NOW + timedelta(minutes=5), error="ratelimited")
    await repo.homes.mark_stale(["UCAROL"], now=NOW + timedelta(minutes=1))
    assert await claim(repo, "a", at=timedelta(minutes=4)) == []
    assert await claim(repo, "a", at=timedelta(minutes=5)) == ["UCAROL"]
    # Given back at shutdown: another owner takes it at once.
    await repo.homes.release("a")
    assert await claim(repo, "b", at=timedelta(minutes=5)) == ["UCAROL"]


async def test_a_forgotten_viewer_is_not_marked_until_they_open_it_again(repo: RequestRepository) -> None:
    await repo.homes.opened("UGONE", now=NOW)
    await repo.homes.mark_stale({"UGONE"}, now=NOW)
    [home] = await repo.homes.claim("a", now=NOW, lease_seconds=LEASE)
    await repo.homes.forget("UGONE")
    await repo.homes.published(home, "a", now=NOW)  # a publish that ends after the forget changes nothing
    await repo.homes.retry_later("UGONE", "a", due=NOW, error="x")
    assert await repo.homes.viewers() == []
    await repo.homes.mark_stale({"UGONE"}, now=NOW)
    assert await claim(repo, "b") == []
    await repo.homes.opened("UGONE", now=NOW)
    await repo.homes.mark_stale({"UGONE"}, now=NOW)
    assert await claim(repo, "b") == ["UGONE"]
