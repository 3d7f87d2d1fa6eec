"""Stores for tests: a RequestStore on an empty, migrated database (the SQL side of the store fixtures), a
request made in one, and what a store told its observers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.ports import ChangeObserver, RequestRepository
from bot.restore.flow import Flow, Stage
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RestoreRequest
from bot.restore.review import Review
from bot.store.sql_store import RequestStore

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def fresh_store(
    database_url: str, *, observers: Sequence[ChangeObserver] = (), on_notices: Callable[[], None] = lambda: None
) -> RequestStore:
    """A store on `database_url` with the schema made from nothing (close it when done)."""
    store = RequestStore.from_url(database_url, observers=observers, on_notices=on_notices)
    if not store.is_sqlite:
        # The session's PostgreSQL database is shared by the tests: start each one from an empty schema.
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await store.create_schema()
    return store


def make_plan(target: str = "tgt1in09", time_ms: int = 1_795_000_000_000) -> RestorePlan:
    return RestorePlan(
        project_id="p1",
        source=NamedRef(id="srcin09", name="orders-prod"),
        target=NamedRef(id=target, name="orders-restore-1"),
        restore_time_ms=time_ms,
        mappings=(DataNodeMapping(source=NamedRef(id="s1in01", name="rds-0"), target=NamedRef(id="t1in01")),),
    )


async def create(
    store: RequestRepository,
    target: str = "tgt1in09",
    ttl: timedelta = timedelta(hours=1),
    required: int = 1,
    *,
    now: datetime = NOW,
    channel_id: str = "C1",
    requester_id: str = "UALICE",
    review: Review | None = None,
    flow: Flow | None = None,
) -> RestoreRequest:
    return await store.create(
        plan=make_plan(target),
        requester_id=requester_id,
        channel_id=channel_id,
        required_approvals=flow.total_required if flow is not None else required,
        now=now,
        expires_at=now + ttl,
        review=review,
        flow=flow,
    )


TWO_STAGES = Flow(
    (
        Stage("DBA lead", approver_group_ids=frozenset({"SLEADS"}), required=2),
        Stage("Service owner", approver_user_ids=frozenset({"UOWNER"})),
    ),
    rule="old restore point",
)


@dataclass
class Heard:
    """What a store told: each committed change of state (change, request id, state), and how many times it
    said notices were written. With `slipping`, its first observer raises (a broken observer)."""

    changes: list[tuple[str, str, str]] = field(default_factory=list)
    notices: int = 0
    slipping: bool = False

    def slip(self, change: str, request: RestoreRequest) -> None:
        if self.slipping:
            raise RuntimeError(f"an observer's bug at {change}")

    def change(self, change: str, request: RestoreRequest) -> None:
        self.changes.append((change, request.id, request.state.value))

    def notice(self) -> None:
        self.notices += 1
