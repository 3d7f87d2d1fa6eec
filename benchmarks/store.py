"""Store benchmark: an approval against a plain transaction of the same shape, and lookups over a large history.

    .venv/bin/python benchmarks/store.py [--history 100000] [--approvals 300] [--repeat 3] [--postgres URL]

For SQLite (a file) and PostgreSQL (default: a throwaway database on postgresql://postgres@127.0.0.1:5432), with
`--history` finished requests in the table, at 1 and 2 replicas (separate processes sharing the database, each
approving its own requests, 4 at a time):
- approve = `RequestStore.approve` of a request that needs one approval: the approval, the move to APPROVED,
  their audit records and outbox rows, in one transaction;
- plain = the same shape written by hand on the bare driver (asyncpg / aiosqlite), one transaction each: a
  conditional update of the request row, an approval insert, the audit-chain head read FOR UPDATE, the hashed
  audit insert, the head update and an outbox insert.
Both print transactions/second (all replicas together) and p50/p99 per transaction, medians over `--repeat` runs,
and the approve/plain ratio; before them, p50/p99 of `list`, `status` and the sweeper's queries over the history (goal:
p99 < 50 ms at 100k requests), whether `audit verify` finds the chain intact after all those writers, and last
one line per engine: `approve/plain p50 ratio (<engine>, 1 replica): N.N×` (goal: ≤ 3× on PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan, canonical_json
from bot.restore.request import ACTIVE_STATES, RequestState
from bot.store import schema
from bot.store.audit import verify_chain
from bot.store.audit_chain import GENESIS_HASH, audit_hash, hashed_audit_record
from bot.store.rows import ms
from bot.store.sql_store import RequestStore

NOW = datetime.now(UTC)
CONCURRENCY = 4  # clicks in flight per replica


def plan(target: str) -> RestorePlan:
    return RestorePlan(
        project_id="p",
        source=NamedRef(id="srcin09", name="orders-prod"),
        target=NamedRef(id=target, name=target),
        restore_time_ms=1_795_000_000_000,
        mappings=(DataNodeMapping(source=NamedRef(id="s0in01", name="rds-0"), target=NamedRef(id="t0in01")),),
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def pending_requests(store: RequestStore, count: int, tag: str) -> list[tuple[str, str]]:
    created = [
        await store.create(
            plan=plan(f"{tag}-{i}"),
            requester_id="UALICE",
            channel_id="C",
            required_approvals=1,
            now=NOW,
            expires_at=NOW + timedelta(hours=1),
        )
        for i in range(count)
    ]
    return [(r.id, r.fingerprint) for r in created]


async def timed(calls: list[Callable[[], Awaitable[None]]], concurrency: int = CONCURRENCY) -> list[float]:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*[one(call) for call in calls])
    return latencies


# ---- ours: RequestStore.approve ----------------------------------------------------------------------------------


async def approve_run(url: str, count: int, tag: str, start_at: float) -> tuple[list[float], float]:
    store = RequestStore.from_url(url)
    requests = await pending_requests(store, count, tag)
    await asyncio.sleep(max(0.0, start_at - time.time()))

    def click(request_id: str, fingerprint: str) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            outcome = await store.approve(request_id, user_id="UBOB", fingerprint=fingerprint, now=NOW)
            assert outcome.added and outcome.approved

        return call

    began = time.perf_counter()
    latencies = await timed([click(*r) for r in requests])
    wall = time.perf_counter() - began
    await store.close()
    return latencies, wall


# ---- plain: the same shape by hand on the bare driver ------------------------------------------------------------

HEAD = "restore_audit_head"


def plain_audit_row(request_id: str, fingerprint: str, prev_hash: str) -> tuple[Any, ...]:
    record = hashed_audit_record(
        at_ms=ms(NOW),
        request_id=request_id,
        actor="UBOB",
        action="approved",
        from_state="PENDING",
        to_state="APPROVED",
        fingerprint=fingerprint,
        details={"approvers": ["UBOB"]},
    )
    return (
        ms(NOW),
        request_id,
        "UBOB",
        "approved",
        "PENDING",
        "APPROVED",
        fingerprint,
        canonical_json(record["details"]),
        prev_hash,
        audit_hash(prev_hash, record),
    )


AUDIT_COLUMNS = "at_ms, request_id, actor, action, from_state, to_state, fingerprint, details, prev_hash, hash"


async def plain_postgres(url: str, requests: list[tuple[str, str]]) -> list[float]:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
    now = ms(NOW)

    def click(request_id: str, fingerprint: str) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            async with pool.acquire() as conn, conn.transaction():
                status = await conn.execute(
                    "UPDATE restore_requests SET state = 'APPROVED', updated_ms = $2 WHERE id = $1 AND state = 'PENDING'",
                    request_id,
                    now,
                )
                assert status == "UPDATE 1"
                await conn.execute(
                    "INSERT INTO restore_approvals (request_id, user_id, fingerprint, at_ms) VALUES ($1, 'UBOB', $2, $3)",
                    request_id,
                    fingerprint,
                    now,
                )
                prev = await conn.fetchval(f"SELECT hash FROM {HEAD} WHERE id = 1 FOR UPDATE")
                row = plain_audit_row(request_id, fingerprint, prev)
                seq = await conn.fetchval(
                    f"INSERT INTO restore_audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                    "RETURNING seq",
                    *row,
                )
                await conn.execute(f"UPDATE {HEAD} SET seq = $1, hash = $2 WHERE id = 1", seq, row[-1])
                await conn.execute(
                    "INSERT INTO restore_outbox (request_id, notice, params, created_ms, due_ms, attempts) "
                    "VALUES ($1, 'submitting', '{}', $2, $2, 0)",
                    request_id,
                    now,
                )

        return call

    latencies = await timed([click(*r) for r in requests])
    await pool.close()
    return latencies


async def plain_sqlite(url: str, requests: list[tuple[str, str]]) -> list[float]:
    import aiosqlite

    conn = await aiosqlite.connect(url.split("///", 1)[1], isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA busy_timeout=30000")
    writer = asyncio.Lock()  # one connection: one transaction at a time, as the store's writers queue
    now = ms(NOW)

    def click(request_id: str, fingerprint: str) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            async with writer:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    cursor = await conn.execute(
                        "UPDATE restore_requests SET state = 'APPROVED', updated_ms = ? WHERE id = ? AND state = 'PENDING'",
                        (now, request_id),
                    )
                    assert cursor.rowcount == 1
                    await conn.execute(
                        "INSERT INTO restore_approvals (request_id, user_id, fingerprint, at_ms) VALUES (?, 'UBOB', ?, ?)",
                        (request_id, fingerprint, now),
                    )
                    async with conn.execute(f"SELECT hash FROM {HEAD} WHERE id = 1") as found:
                        prev = (await found.fetchone())[0]  # type: ignore[index]
                    row = plain_audit_row(request_id, fingerprint, prev)
                    cursor = await conn.execute(
                        f"INSERT INTO restore_audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
                    )
                    await conn.execute(f"UPDATE {HEAD} SET seq = ?, hash = ? WHERE id = 1", (cursor.lastrowid, row[-1]))
                    await conn.execute(
                        "INSERT INTO restore_outbox (request_id, notice, params, created_ms, due_ms, attempts) "
                        "VALUES (?, 'submitting', '{}', ?, ?, 0)",
                        (request_id, now, now),
                    )
                    await conn.execute("COMMIT")
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise

        return call

    latencies = await timed([click(*r) for r in requests])
    await conn.close()
    return latencies


async def plain_run(url: str, count: int, tag: str, start_at: float) -> tuple[list[float], float]:
    store = RequestStore.from_url(url)
    requests = await pending_requests(store, count, tag)
    await store.close()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    began = time.perf_counter()
    latencies = await (plain_sqlite if url.startswith("sqlite") else plain_postgres)(url, requests)
    return latencies, time.perf_counter() - began


# ---- runs in replica processes -----------------------------------------------------------------------------------


def _replica(kind: str, url: str, count: int, tag: str, start_at: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    run = approve_run if kind == "approve" else plain_run
    queue.put(asyncio.run(run(url, count, tag, start_at)))


@dataclass
class Figures:
    rate: float
    p50: float
    p99: float


def one_run(kind: str, url: str, count: int, replicas: int) -> Figures:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    # Each replica first creates its requests (untimed); all start approving at the same moment.
    start_at = time.time() + 2.0 + count * 0.01 * replicas
    procs = [
        multiprocessing.Process(
            target=_replica, args=(kind, url, count, f"{kind}{i}-{uuid.uuid4().hex[:6]}", start_at, queue)
        )
        for i in range(replicas)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for lat, _ in results for x in lat]
    wall = max(elapsed for _, elapsed in results)
    return Figures(len(latencies) / wall, pct(latencies, 0.5), pct(latencies, 0.99))


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(
        statistics.median(f.rate for f in runs),
        statistics.median(f.p50 for f in runs),
        statistics.median(f.p99 for f in runs),
    )


def approve_benchmark(url: str, count: int, repeat: int) -> dict[int, float]:
    """Ours and plain, alternating, `repeat` times per replica count; returns the p50 ratio per replica count."""
    ratios: dict[int, float] = {}
    for replicas in (1, 2):
        runs: dict[str, list[Figures]] = {"approve": [], "plain": []}
        for _ in range(repeat):
            for kind in runs:
                runs[kind].append(one_run(kind, url, count, replicas))
        ours, plain = median_figures(runs["approve"]), median_figures(runs["plain"])
        for kind, f in (("approve", ours), ("plain", plain)):
            each = " ".join(f"{r.p50:.1f}" for r in runs[kind])
            print(
                f"  {kind:8s} replicas={replicas}  {f.rate:7.1f} tx/s  p50 {f.p50:6.1f} ms  p99 {f.p99:6.1f} ms"
                f"   (p50 of each run: {each})"
            )
        ratios[replicas] = ours.p50 / plain.p50
        print(
            f"  approve/plain replicas={replicas}: p50 {ratios[replicas]:.1f}×  throughput {plain.rate / ours.rate:.1f}×"
        )
    return ratios


# ---- lookups over the history ------------------------------------------------------------------------------------


async def seed_history(store: RequestStore, count: int) -> tuple[str, str]:
    """Insert `count` finished requests directly (fast), return one request id and its job id."""
    body = plan("history").model_dump_json()
    fingerprint = plan("history").fingerprint()
    rows = []
    base = ms(NOW) - count * 1000
    for i in range(count):
        rows.append(
            {
                "id": f"H-{i:08d}",
                "state": RequestState.COMPLETED.value,
                "fingerprint": fingerprint,
                "plan_json": body,
                "source_instance_id": "srcin09",
                "target_instance_id": f"hist-{i % 500}",
                "requester_id": f"U{i % 40:03d}",
                "channel_id": "C",
                "message_ts": f"{1700000000 + i}.000100",
                "required_approvals": 1,
                "created_ms": base + i * 1000,
                "expires_ms": base + i * 1000 + 3_600_000,
                "updated_ms": base + i * 1000 + 60_000,
                "job_id": uuid.uuid4().hex,
                "job_progress": 100,
                "submitted_ms": base + i * 1000 + 1000,
                "finished_ms": base + i * 1000 + 60_000,
                "final_notice_ms": base + i * 1000 + 60_000,
            }
        )
    async with store.engine.begin() as conn:
        for start in range(0, count, 5000):
            await conn.execute(insert(schema.requests), rows[start : start + 5000])
    await store.create_schema()  # what a (re)start does after such a history: migrations, then statistics
    if not store.is_sqlite:
        async with store.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    middle = rows[count // 2]
    return str(middle["id"]), str(middle["job_id"])


async def lookup_benchmark(store: RequestStore, request_id: str, job_id: str, rounds: int = 200) -> None:
    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "list (recent 10)": lambda: store.recent(10),
        "list (one requester)": lambda: store.recent(10, requester_id="U007"),
        "status by request id": lambda: store.get(request_id),
        "status by job id": lambda: store.find_by_job_id(job_id),
        "sweep: due expiries": lambda: store.due_for_expiry(NOW),
        "sweep: active requests": lambda: store.in_states(ACTIVE_STATES),
        "busy-target check": lambda: store.active_for_target("hist-7"),
    }
    for name, call in checks.items():
        await call()  # warm
        latencies = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)
        print(f"  {name:24s} p50 {pct(latencies, 0.5):6.2f} ms  p99 {pct(latencies, 0.99):6.2f} ms")


async def prepare(url: str, history: int) -> None:
    """An empty database at the newest schema with `history` finished requests, and the lookups over it."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    store = RequestStore.from_url(url)
    try:
        if not store.is_sqlite:
            async with store.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await store.create_schema()
        started = time.perf_counter()
        request_id, job_id = await seed_history(store, history)
        print(f"  seeded {history} finished requests in {time.perf_counter() - started:.1f} s")
        await lookup_benchmark(store, request_id, job_id)
        async with store.engine.begin() as conn:
            if not (await conn.run_sync(lambda sync: sync.dialect.has_table(sync, HEAD))):
                # A schema from before the chain's head table: the plain transaction brings its own.
                await conn.execute(text(f"CREATE TABLE {HEAD} (id INTEGER PRIMARY KEY, seq BIGINT, hash VARCHAR(64))"))
                await conn.execute(text(f"INSERT INTO {HEAD} VALUES (1, NULL, '{GENESIS_HASH}')"))
    finally:
        await store.close()


async def check_chain(url: str) -> None:
    """`audit verify` after every run's writers (ours and plain, both replicas) appended to the one chain."""
    store = RequestStore.from_url(url)
    try:
        result = await verify_chain(store)
        state = "intact" if result.ok else f"BROKEN at seq {result.broken.seq if result.broken else '?'}"
        print(f"  audit verify: chain {state}, {result.count} records")
    finally:
        await store.close()


async def postgres_database(admin: str) -> tuple[str, str]:
    import asyncpg

    name = f"ddm_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name, name


async def drop_database(admin: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--approvals", type=int, default=300, help="approvals per replica and run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (medians are printed)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    summary: list[str] = []
    with TemporaryDirectory() as tmp:
        engines: list[tuple[str, str, str | None]] = []
        if not args.skip_sqlite:
            engines.append(("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", None))
        if not args.skip_postgres:
            url, name = asyncio.run(postgres_database(args.postgres))
            engines.append(("PostgreSQL", url, name))
        try:
            for label, url, _ in engines:
                print(f"{label}")
                asyncio.run(prepare(url, args.history))
                ratios = approve_benchmark(url, args.approvals, args.repeat)
                asyncio.run(check_chain(url))
                summary.append(f"approve/plain p50 ratio ({label}, 1 replica): {ratios[1]:.1f}×")
        finally:
            for _, _, name in engines:
                if name:
                    asyncio.run(drop_database(args.postgres, name))
    print("\n".join(summary))


if __name__ == "__main__":
    main()
