"""The store when PostgreSQL goes away: StoreUnavailable, nothing half-recorded, and back to normal after."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from bot.errors import StoreUnavailable
from bot.restore.request import RequestState
from bot.store import engine as engine_module
from bot.store.sql_store import RequestStore
from tests.support.pg_outage import OutageDatabase, outage_database, outage_powers
from tests.support.stores import NOW, create


@pytest.fixture(autouse=True)
async def _outages_can_be_made(postgres_url: str) -> None:
    """These tests need PostgreSQL (the session fixture skips, or fails under DDM_REQUIRE_POSTGRES=1), and a role
    there that can make an outage: said plainly here rather than as a permission error in the middle of a test."""
    missing = await outage_powers()
    assert not missing, f"the tests' PostgreSQL role can't make an outage: it lacks {', '.join(missing)}"


async def test_reads_and_writes_raise_store_unavailable_and_recover() -> None:
    async with outage_database() as db:
        store = RequestStore.from_url(db.url)
        await store.create_schema()
        request = await create(store)
        async with db.down():
            with pytest.raises(StoreUnavailable):
                await store.get(request.id)
            with pytest.raises(StoreUnavailable):
                await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
        again = await store.get(request.id)
        assert again is not None and again.state is RequestState.PENDING and again.approvals == ()
        await store.close()


async def test_an_approval_cut_off_mid_transaction_leaves_nothing_behind() -> None:
    """The session running the approval ends while it waits on the request's row lock: neither the approval
    nor the move to APPROVED nor any notice is recorded; the next click counts and moves the request."""
    async with outage_database() as db:
        store = RequestStore.from_url(db.url)
        await store.create_schema()
        request = await create(store)
        notices_before = len(await store.outbox.pending(request.id))
        blocker = await asyncpg.connect(db.url.replace("postgresql+asyncpg://", "postgresql://"))
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT id FROM restore_requests WHERE id = $1 FOR UPDATE", request.id)
        approving = asyncio.create_task(
            store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
        )
        for _ in range(50):  # until the approval waits on the lock
            waiting = await blocker.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", db.name
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        await blocker.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            db.name,
        )
        with pytest.raises(StoreUnavailable):
            await approving
        await tx.rollback()
        await blocker.close()
        after = await store.get(request.id)
        assert after is not None and after.state is RequestState.PENDING and after.approvals == ()
        assert len(await store.outbox.pending(request.id)) == notices_before
        assert [a.action for a in await store.audit_trail(request.id)] == ["create"]
        done = await store.approve(
            request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW + timedelta(seconds=1)
        )
        assert done.added and done.approved and done.request.state is RequestState.APPROVED
        await store.close()


async def _end_sessions(db: OutageDatabase) -> None:
    """The server ends every session of the database (as a restart does) but lets new ones in."""
    await db._admin(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db.name}' AND pid <> pg_backend_pid()"
    )


async def test_a_connection_idle_across_a_restart_is_replaced_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooled connections are pinged before use once idle for IDLE_PING_SECONDS (here 0: any idle time at all):
    the sessions a restart ended are replaced without failing the click."""
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
    async with outage_database() as db:
        store = RequestStore.from_url(db.url)
        await store.create_schema()
        request = await create(store)
        await _end_sessions(db)
        done = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
        assert done.added and done.approved
        await store.close()


async def test_a_connection_in_steady_use_fails_once_then_the_pool_is_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not pinged when used moments ago: the first statement after the sessions ended fails (StoreUnavailable,
    nothing recorded), and every connection pooled before it is discarded, so the next click works."""
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 60.0)
    async with outage_database() as db:
        store = RequestStore.from_url(db.url)
        await store.create_schema()
        request = await create(store)
        # Two connections pooled, both about to be ended.
        await asyncio.gather(store.get(request.id), store.get(request.id))
        await _end_sessions(db)
        with pytest.raises(StoreUnavailable):
            await store.get(request.id)
        done = await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
        assert done.added and done.approved
        await store.close()
