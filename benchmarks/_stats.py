"""Small helpers shared by the benchmark scripts: timed runs at a given concurrency, percentiles, tables."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; 0.0 when there are none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Sample:
    """Latencies (seconds) of a number of calls, the wall time and this process's CPU time they took."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, other: Sample) -> None:
        self.latencies.extend(other.latencies)
        self.wall += other.wall
        self.cpu += other.cpu

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Calls per second of wall time."""
        return self.calls / self.wall if self.wall else 0.0

    @property
    def cpu_per_call_us(self) -> float:
        return self.cpu / self.calls * 1e6 if self.calls else 0.0

    def p(self, q: float) -> float:
        """The q-th percentile latency in milliseconds."""
        return percentile(self.latencies, q) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies, default=0.0) * 1000


async def timed_run(
    call: Callable[[], Awaitable[object]], *, calls: int, concurrency: int, pause: float = 0.0
) -> Sample:
    """Make `calls` calls with `concurrency` workers; each latency is the time one `call()` took.

    With `pause`, each worker waits that long (untimed, but inside the wall time) after each call.
    """
    latencies: list[float] = []
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)
            if pause:
                await asyncio.sleep(pause)

    cpu_started = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, calls)))))
    return Sample(latencies, time.perf_counter() - started, time.process_time() - cpu_started)


def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline else float("inf")


def table(header: list[str], rows: list[list[str]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, from Linux /proc; None where that can't be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
