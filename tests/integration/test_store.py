"""RequestStore's own, beyond the contract every repository keeps (tests/integration/contract): what only a database shared
by several processes can show."""

from __future__ import annotations

import asyncio

from bot.restore.lifecycle import Event
from bot.store.sql_store import RequestStore
from tests.support.stores import NOW, create


async def test_the_chain_head_is_the_last_record_after_concurrent_appends_from_two_stores(
    store: RequestStore, database_url: str
) -> None:
    """Two stores (as two replicas) creating, approving and cancelling at once: every record chains onto the
    one before it, and the head table names the newest record."""
    from sqlalchemy import select

    from bot.store import schema
    from bot.store.audit import verify_chain

    other = RequestStore.from_url(database_url)
    try:

        async def work(each: RequestStore, tag: str) -> None:
            for i in range(6):
                request = await create(each, target=f"{tag}-{i}", required=1 + i % 2)
                await each.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=NOW)
                if i % 2:
                    await each.transition(request.id, Event.CANCEL, actor="UALICE", now=NOW)

        await asyncio.gather(*[work(each, f"{tag}{n}") for n in range(3) for each, tag in ((store, "a"), (other, "b"))])
        result = await verify_chain(store)
        trail = await store.audit_trail()
        # per worker: 6 creates, 3 approvals that move (2 records each), 3 that do not and 3 cancels
        assert result.ok and result.count == len(trail) == 6 * 18
        async with store.reader.connect() as conn:
            head = (await conn.execute(select(schema.audit_head))).one()
        assert (head.seq, head.hash) == (trail[-1].seq, trail[-1].hash) == (result.last_seq, result.last_hash)
    finally:
        await other.close()
