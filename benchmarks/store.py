"""Store benchmark: approve throughput and latency, and list/status lookups over a large history.

    .venv/bin/python benchmarks/store.py [--history 100000] [--approvals 300] [--postgres URL]

For SQLite (a file) and PostgreSQL (default: a throwaway database on postgresql://postgres@127.0.0.1:5432),
at 1 and 2 replicas (separate processes sharing the database, each approving its own requests):
- approve = `RequestStore.approve`: the approval and the PENDING → APPROVED move (the last approval needed)
  in one transaction, with their audit and outbox rows;
  prints transitions/second (all replicas together) and p50/p99 per approve.
- with `--history` finished requests in the table: p50/p99 of `list` (recent 10), `status` by request id and
  by job id, and of the sweeper's queries (due expiries, active requests, unannounced results).
Goal: list/status p99 < 50 ms with 100k requests (indexes, not scans).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import ACTIVE_STATES, RequestState
from bot.store import schema
from bot.store.requests import RequestStore, ms

NOW = datetime.now(UTC)


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


async def approve_run(url: str, count: int, tag: str, concurrency: int = 4) -> list[float]:
    store = RequestStore.from_url(url)
    requests = [
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
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def approve(request_id: str, fingerprint: str) -> None:
        async with gate:
            started = time.perf_counter()
            # One transaction: the approval, and (the last one needed) PENDING → APPROVED with its outbox rows.
            outcome = await store.approve(request_id, user_id="UBOB", fingerprint=fingerprint, now=NOW)
            assert outcome.added and outcome.approved
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*[approve(r.id, r.fingerprint) for r in requests])
    await store.close()
    return latencies


def _replica(url: str, count: int, tag: str, start_at: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    while time.time() < start_at:
        time.sleep(0.001)
    began = time.perf_counter()
    latencies = asyncio.run(approve_run(url, count, tag))
    queue.put((latencies, time.perf_counter() - began))


def approve_benchmark(url: str, count: int, replicas: int) -> None:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 1.0
    procs = [
        multiprocessing.Process(target=_replica, args=(url, count, f"r{i}-{uuid.uuid4().hex[:6]}", start_at, queue))
        for i in range(replicas)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for lat, _ in results for x in lat]
    wall = max(elapsed for _, elapsed in results)
    print(
        f"  approve  replicas={replicas}  {len(latencies) / wall:8.1f} transitions/s"
        f"  p50 {pct(latencies, 0.5):6.1f} ms  p99 {pct(latencies, 0.99):6.1f} ms"
        "   (create excluded; includes the creates of the other replica running meanwhile)"
    )


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


async def lookup_benchmark(url: str, history: int, rounds: int = 200) -> None:
    store = RequestStore.from_url(url)
    started = time.perf_counter()
    request_id, job_id = await seed_history(store, history)
    print(f"  seeded {history} finished requests in {time.perf_counter() - started:.1f} s")
    checks = {
        "list (recent 10)": lambda: store.recent(10),
        "list (one requester)": lambda: store.recent(10, requester_id="U007"),
        "status by request id": lambda: store.get(request_id),
        "status by job id": lambda: store.find_by_job_id(job_id),
        "sweep: due expiries": lambda: store.due_for_expiry(NOW),
        "sweep: active requests": lambda: store.in_states(ACTIVE_STATES),
        "sweep: next expiry": lambda: store.next_expiry(),
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
    await store.close()


async def fresh(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    store = RequestStore.from_url(url)
    if not store.is_sqlite:
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await store.create_schema()
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
    parser.add_argument("--approvals", type=int, default=300, help="approves per replica")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        engines = [("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", None)]
        if not args.skip_postgres:
            url, name = asyncio.run(postgres_database(args.postgres))
            engines.append(("PostgreSQL", url, name))
        try:
            for label, url, _ in engines:
                print(f"{label}")
                for replicas in (1, 2):
                    asyncio.run(fresh(url))
                    approve_benchmark(url, args.approvals, replicas)
                asyncio.run(fresh(url))
                asyncio.run(lookup_benchmark(url, args.history))
        finally:
            for _, _, name in engines:
                if name:
                    asyncio.run(drop_database(args.postgres, name))


if __name__ == "__main__":
    main()
