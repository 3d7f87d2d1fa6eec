"""DdmClient throughput and latency against the DDM simulator, beside raw httpx calls of the same routes.

Run from the repo root (about 20 s with the defaults):

    .venv/bin/python benchmarks/ddm_client.py [--requests 500] [--concurrency 20] [--rounds 4]

The simulator runs as a subprocess (`python -m bot simulator` on 127.0.0.1, AK/SK credentials from the
environment), so its CPU does not share the event loop with the measured client. One restore POST first creates
a job, so the job route has an id. Then, sequentially and at `--concurrency`, each route is called `--requests`
times through `DdmClient` ("ours") and as a raw `httpx.AsyncClient` GET ("raw"): same path, query, headers,
connection limits and `AkSkAuth` signing, only a status check on the answer. Ours adds what the comparison is
about: id checks, the retry wrapper and pydantic parsing of the answer. Ours and raw alternate in `--rounds`
blocks so that drift hits both alike.

Printed per route and overall: calls/s, p50/p99 latency, this process's CPU per call, and the ratios ours/raw
(time per call = raw calls/s ÷ ours calls/s, p50, p99, CPU). Goal: ours/raw ≤ 1.2× overall. At concurrency the
simulator (one process, one core) may be what limits calls/s; the CPU-per-call ratio shows the client's own
overhead either way. The last table shows what pydantic validation of each answer costs on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from pydantic import BaseModel

from benchmarks._stats import Sample, process_cpu_seconds, ratio, table, timed_run
from bot.huawei.auth import AkSkAuth
from bot.huawei.ddm import CANDIDATE_PAGE_SIZE, DdmClient
from bot.huawei.models import (
    JobAnswer,
    RecoveryRequest,
    RelatedDataNodes,
    RestorableInstancePage,
    RestorableWindows,
    to_epoch_ms,
)
from bot.simulator.world import ORDERS_PROD_ID, ORDERS_RESTORE_1_ID
from tests.support.processes import clean_env, free_port

PROJECT = "0123456789abcdef0123456789abcdef"
AK = "BENCHAKEXAMPLE000000"
SK = "bench-secret-key"
HEADERS = {"Content-Type": "application/json", "User-Agent": "ddm-restore-bot"}  # what DdmClient sends
LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20)  # DdmClient's pool
GOAL = 1.2


@dataclass(frozen=True)
class Route:
    name: str
    ours: Callable[[], Awaitable[object]]
    raw: Callable[[], Awaitable[object]]
    path: str
    params: dict[str, int] | None
    model: type[BaseModel]


@dataclass(frozen=True)
class Simulator:
    base_url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.pid)


@contextlib.asynccontextmanager
async def simulator_process() -> AsyncIterator[Simulator]:
    """`python -m bot simulator` on a free loopback port."""
    port = free_port()
    env = clean_env() | {
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": SK,
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
        "LOG_LEVEL": "WARNING",  # no access log: it would cost the simulator CPU on every call
    }
    with tempfile.TemporaryDirectory(prefix="ddm-bench-") as workdir, tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--job-seconds",
            "3600",  # the job stays Running for the whole benchmark
            cwd=workdir,  # no stray .env from the repo
            env=env,
            stdout=log,
            stderr=log,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            await _wait_healthy(base_url, process, log)
            yield Simulator(base_url, process.pid)
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _wait_healthy(base_url: str, process: asyncio.subprocess.Process, log: BinaryIO) -> None:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(timeout=1) as http:
        while True:
            if process.returncode is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")[-2000:]
                raise SystemExit(f"the simulator exited at start:\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{base_url}/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise SystemExit("the simulator did not become healthy in 20 s")
            await asyncio.sleep(0.1)


async def create_job(client: DdmClient) -> tuple[str, int]:
    """One restore POST (orders-prod → orders-restore-1). Returns the job id and the restore point used."""
    windows = await client.restorable_windows(ORDERS_PROD_ID)
    moment = windows[-1].end_time - timedelta(minutes=1)
    related = await client.related_data_nodes(ORDERS_PROD_ID, moment)
    relations = []
    used: set[str] = set()
    for node in related.related_data_nodes:
        candidates = await client.restorable_data_nodes(
            ORDERS_PROD_ID,
            target_instance_id=ORDERS_RESTORE_1_ID,
            source_dn_instance_id=node.instance_id,
            restore_time=moment,
        )
        pick = next(c for c in candidates if c.available and c.instance_id not in used)
        used.add(pick.instance_id)
        relations.append({"source_instance_id": node.instance_id, "target_instance_id": pick.instance_id})
    body = RecoveryRequest.model_validate(
        {
            "source": {"restore_time": to_epoch_ms(moment)},
            "target": {"instance_id": ORDERS_RESTORE_1_ID},
            "data_node_relations": relations,
        }
    )
    return await client.restore(ORDERS_PROD_ID, body), to_epoch_ms(moment)


def build_routes(client: DdmClient, raw: httpx.AsyncClient, job_id: str, restore_ms: int) -> list[Route]:
    backups = f"/v3/{PROJECT}/instances/{ORDERS_PROD_ID}/backups"

    def raw_get(path: str, params: dict[str, int] | None) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            response = await raw.get(path, params=params)
            if response.status_code != 200:
                raise RuntimeError(f"raw GET {path} -> {response.status_code}: {response.text[:200]}")
            return response

        return call

    specs: list[tuple[str, Callable[[], Awaitable[object]], str, dict[str, int] | None, type[BaseModel]]] = [
        (
            "restorable-time-interval",
            lambda: client.restorable_windows(ORDERS_PROD_ID),
            f"{backups}/restorable-time-interval",
            None,
            RestorableWindows,
        ),
        (
            "restorable-instances",
            lambda: client.restorable_instances(ORDERS_PROD_ID),
            f"{backups}/restorable-instances",
            {"offset": 0, "limit": CANDIDATE_PAGE_SIZE},  # DdmClient's first (and here only) page
            RestorableInstancePage,
        ),
        (
            "related-dn",
            lambda: client.related_data_nodes(ORDERS_PROD_ID, restore_ms),
            f"{backups}/related-dn",
            {"restore_time": restore_ms},
            RelatedDataNodes,
        ),
        ("job", lambda: client.job(job_id), f"/v3/{PROJECT}/jobs/{job_id}", None, JobAnswer),
    ]
    return [Route(name, ours, raw_get(path, params), path, params, model) for name, ours, path, params, model in specs]


async def check_routes(routes: list[Route]) -> None:
    """Both sides answer, and ours parses to something non-empty (a benchmark of errors would be worthless)."""
    for route in routes:
        answer = await route.ours()
        if not answer:
            raise SystemExit(f"{route.name}: DdmClient returned nothing ({answer!r})")
        await route.raw()


async def measure(
    routes: list[Route], *, requests: int, concurrency: int, rounds: int
) -> dict[tuple[str, str], Sample]:
    """Each route `requests` times per side, in `rounds` blocks alternating which side goes first."""
    results = {(r.name, side): Sample() for r in routes for side in ("ours", "raw")}
    per_round = [requests // rounds + (1 if i < requests % rounds else 0) for i in range(rounds)]
    for index, calls in enumerate(per_round):
        for route in routes:
            sides = [("ours", route.ours), ("raw", route.raw)]
            for side, call in sides if index % 2 == 0 else reversed(sides):
                results[(route.name, side)].add(await timed_run(call, calls=calls, concurrency=concurrency))
    return results


def report(title: str, routes: list[Route], results: dict[tuple[str, str], Sample]) -> tuple[float, float]:
    rows: list[list[str]] = []
    totals = {"ours": Sample(), "raw": Sample()}
    names = [r.name for r in routes]
    for name in [*names, "overall"]:
        if name == "overall":
            ours, raw = totals["ours"], totals["raw"]
        else:
            ours, raw = results[(name, "ours")], results[(name, "raw")]
            totals["ours"].add(ours)
            totals["raw"].add(raw)
        rows.append(
            [
                name,
                f"{ours.rate:,.0f}",
                f"{ours.p(50):.2f}",
                f"{ours.p(99):.2f}",
                f"{ours.cpu_per_call_us:,.0f}",
                f"{raw.rate:,.0f}",
                f"{raw.p(50):.2f}",
                f"{raw.p(99):.2f}",
                f"{raw.cpu_per_call_us:,.0f}",
                f"{ratio(raw.rate, ours.rate):.2f}x",
                f"{ratio(ours.p(50), raw.p(50)):.2f}x",
                f"{ratio(ours.p(99), raw.p(99)):.2f}x",
                f"{ratio(ours.cpu_per_call_us, raw.cpu_per_call_us):.2f}x",
            ]
        )
    header = [
        "route",
        "ours/s",
        "p50 ms",
        "p99 ms",
        "cpu µs",
        "raw/s",
        "p50 ms",
        "p99 ms",
        "cpu µs",
        "time/call",
        "p50",
        "p99",
        "cpu",
    ]
    print(f"\n{title}  (ours = DdmClient | raw = httpx.AsyncClient | ratios ours/raw)")
    print(table(header, rows))
    ours, raw = totals["ours"], totals["raw"]
    return ratio(raw.rate, ours.rate), ratio(ours.p(50), raw.p(50))


async def validation_costs(routes: list[Route], repeat: int = 2000) -> None:
    """What parsing one answer of each route with its pydantic model costs, without any I/O."""
    rows = []
    for route in routes:
        response = await route.raw()
        assert isinstance(response, httpx.Response)
        body = response.content
        started = time.perf_counter()
        for _ in range(repeat):
            route.model.model_validate_json(body)
        each = (time.perf_counter() - started) / repeat * 1e6
        rows.append([route.name, f"{len(body):,}", route.model.__name__, f"{each:.1f}"])
    print("\npydantic validation alone (no I/O)")
    print(table(["route", "body bytes", "model", "µs per answer"], rows))


async def main(args: argparse.Namespace) -> None:
    async with simulator_process() as sim:
        base_url = sim.base_url
        client = DdmClient(endpoint=base_url, project_id=PROJECT, auth=AkSkAuth(ak=AK, sk=SK, project_id=PROJECT))
        raw = httpx.AsyncClient(
            base_url=base_url,
            auth=AkSkAuth(ak=AK, sk=SK, project_id=PROJECT),
            timeout=httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0),
            headers=HEADERS,
            limits=LIMITS,
        )
        async with client, raw:
            job_id, restore_ms = await create_job(client)
            routes = build_routes(client, raw, job_id, restore_ms)
            await check_routes(routes)
            print(
                f"simulator subprocess at {base_url} (pid {sim.pid}); AK/SK signing on both sides; job {job_id}; "
                f"{args.requests} calls per route and side per concurrency; {os.cpu_count()} CPUs"
            )
            await measure(routes, requests=args.warmup, concurrency=args.concurrency, rounds=1)
            await measure(routes, requests=args.warmup, concurrency=1, rounds=1)
            verdicts = []
            for concurrency in (1, args.concurrency):
                sim_cpu = sim.cpu_seconds()
                results = await measure(routes, requests=args.requests, concurrency=concurrency, rounds=args.rounds)
                sim_cpu_after = sim.cpu_seconds()
                time_ratio, p50_ratio = report(f"concurrency {concurrency}", routes, results)
                verdicts.append((concurrency, time_ratio, p50_ratio))
                if sim_cpu is not None and sim_cpu_after is not None:
                    total = Sample()
                    for sample in results.values():
                        total.add(sample)
                    print(
                        f"CPU per call: this client {total.cpu_per_call_us:,.0f} µs, simulator "
                        f"{(sim_cpu_after - sim_cpu) / total.calls * 1e6:,.0f} µs "
                        f"(busy {total.cpu / total.wall:.0%} / {(sim_cpu_after - sim_cpu) / total.wall:.0%} of a core)"
                    )
            await validation_costs(routes)
    print()
    for concurrency, time_ratio, p50_ratio in verdicts:
        met = "met" if max(time_ratio, p50_ratio) <= GOAL else "NOT met"
        print(
            f"concurrency {concurrency:>2}: overall ours/raw time per call {time_ratio:.2f}x, p50 {p50_ratio:.2f}x "
            f"-> goal <= {GOAL}x {met}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=500, help="calls per route and side (default 500)")
    parser.add_argument("--concurrency", type=int, default=20, help="the concurrent run's workers (default 20)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating ours/raw blocks (default 4)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per route and side (default 50)")
    args = parser.parse_args()
    if min(args.requests, args.concurrency, args.rounds) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency and --rounds must be >= 1, --warmup >= 0")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
