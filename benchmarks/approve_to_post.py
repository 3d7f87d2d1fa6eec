"""Approve → POST latency: from the last Approve click's HTTP request to the simulator receiving the restore POST.

Run from the repo root (about 3 s per sample):

    .venv/bin/python benchmarks/approve_to_post.py [--samples 15] [--approvals 1]

Each sample starts the whole bot afresh (`tests.support.harness.running_bot`: HTTP mode, SQLite, the fake Slack
Web API and the DDM simulator in this process, all on 127.0.0.1) so that every sample sees the same world (the
demo world of the tree before the reshape has one free restore target). Alice fills in the whole form (command,
source, step 1, step 2: the card is posted), the bot settles, `--approvals - 1` approvers click first, then the
last approver clicks and the clock runs:

- ack: the click's HTTP request sent → its whole answer received;
- POST: the click's request sent → the simulator's call log records POST /backups/recovery (the simulator stamps
  a call when its gateway starts handling it: the time the POST reached "DDM");
- RUNNING: the click's request sent → the store holds the request RUNNING with its job id (seen by polling the
  store every 5 ms, so up to 5 ms late).

It also counts the DDM calls made between the click and the POST (the re-validation before the POST).

The script runs unchanged on the tree before the reshape (7be6a7c: copy it into that tree's benchmarks/ and
run it with that tree's venv). Background loops run at production-like intervals on both trees (job poll 10 s,
sweep 15 s) so that they do not land inside the measured window by chance more on one tree than on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._stats import table
from bot.restore.request import RequestState
from bot.slack.blocks import APPROVE_ACTION
from tests.support.harness import GROUP_MEMBERS, running_bot

REQUESTER = "UALICE"
LAST_APPROVER = "UBOB"
EARLIER_APPROVERS = GROUP_MEMBERS  # approvers through the user group
POST_ROUTE = "recovery"
WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class Sample:
    ack_ms: float
    post_ms: float
    running_ms: float
    calls_between: int  # DDM calls the simulator saw after the click and before the POST


def stamp(record: Any) -> float:
    """The simulator's time of a call record (an ISO 8601 text with its offset) as epoch seconds."""
    return datetime.fromisoformat(str(record.at)).timestamp()


async def one_sample(approvals: int, settle: float, overrides: dict[str, Any]) -> Sample:
    with tempfile.TemporaryDirectory(prefix="approve-bench-") as tmp:
        async with running_bot(
            Path(tmp),
            job_seconds=3600.0,
            sweep_interval=15.0,
            job_poll_interval_seconds=10.0,
            required_approvals=approvals,
            **overrides,
        ) as h:
            request = await h.request_restore(user=REQUESTER)
            for approver in EARLIER_APPROVERS[: approvals - 1]:
                await h.click(APPROVE_ACTION, request, user=approver)
            await asyncio.sleep(settle)  # the card, the thread messages and the approvals so far are done
            assert not h.sim.state.calls_for(POST_ROUTE), "a restore was POSTed before the last approval"
            calls_before = len(h.sim.state.calls)
            wall_started = time.time()
            started = time.perf_counter()
            await h.click(APPROVE_ACTION, request, user=LAST_APPROVER)
            ack = time.perf_counter() - started
            deadline = started + WAIT_SECONDS
            running: float | None = None
            while running is None:
                current = await h.runtime.store.get(request.id)
                if current is not None and current.state is RequestState.RUNNING and current.job_id:
                    running = time.perf_counter() - started
                elif current is not None and current.state not in (
                    RequestState.PENDING,
                    RequestState.APPROVED,
                    RequestState.SUBMITTING,
                ):
                    raise SystemExit(f"the request ended {current.state.value}: {current.error_msg}")
                elif time.perf_counter() > deadline:
                    raise SystemExit(f"no RUNNING request within {WAIT_SECONDS:g} s of the last approval")
                else:
                    await asyncio.sleep(0.005)
            posts = h.sim.state.calls_for(POST_ROUTE)
            assert len(posts) == 1, f"{len(posts)} restore POSTs"
            after = h.sim.state.calls[calls_before:]
            between = sum(1 for c in after if c is not posts[0] and stamp(c) <= stamp(posts[0]))
            return Sample(ack * 1000, (stamp(posts[0]) - wall_started) * 1000, running * 1000, between)


def spread(values: list[float]) -> list[str]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * len(ordered) + 0.5) - 1)]
    return [
        f"{statistics.median(values):.1f}",
        f"{ordered[0]:.1f}",
        f"{p90:.1f}",
        f"{ordered[-1]:.1f}",
        f"{statistics.quantiles(values, n=4)[2] - statistics.quantiles(values, n=4)[0]:.1f}"
        if len(values) >= 4
        else "-",
    ]


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {}
    if args.budget is not None:
        overrides["ddm_calls_per_minute"] = args.budget  # only the reshaped tree knows this setting
    started = time.perf_counter()
    if args.warmup:
        await one_sample(args.approvals, args.settle, overrides)  # imports, code paths, first connections
    samples = []
    for n in range(args.samples):
        samples.append(await one_sample(args.approvals, args.settle, overrides))
        s = samples[-1]
        print(
            f"sample {n + 1:>2}: ack {s.ack_ms:6.1f} ms  POST {s.post_ms:6.1f} ms  RUNNING {s.running_ms:6.1f} ms  "
            f"DDM calls before the POST {s.calls_between}",
            flush=True,
        )
    header = ["last Approve click →", "median ms", "min ms", "p90 ms", "max ms", "IQR ms"]
    rows = [
        ["ack (HTTP answer)", *spread([s.ack_ms for s in samples])],
        ["POST /backups/recovery at the simulator", *spread([s.post_ms for s in samples])],
        ["request RUNNING in the store", *spread([s.running_ms for s in samples])],
    ]
    calls = sorted({s.calls_between for s in samples})
    print(f"\n{args.samples} samples, {args.approvals} approval(s) required, tree {Path.cwd()}")
    print(table(header, rows))
    print(f"DDM calls between the click and the POST: {', '.join(map(str, calls))}")
    print(f"\n(took {time.perf_counter() - started:.1f} s)")
    post = statistics.median(s.post_ms for s in samples)
    print(
        f"approve -> POST: median {post:.1f} ms over {args.samples} samples (max {max(s.post_ms for s in samples):.1f})"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=15, help="samples, each with a fresh bot (default 15)")
    parser.add_argument("--approvals", type=int, default=1, help="approvals required (default 1, at most 23)")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to wait before the last click (0.5)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the unreported first sample")
    parser.add_argument(
        "--budget", type=int, default=None, help="DDM_CALLS_PER_MINUTE (reshaped tree only; the harness sets 100000)"
    )
    args = parser.parse_args()
    if args.samples < 1 or not 1 <= args.approvals <= len(EARLIER_APPROVERS) + 1 or args.settle < 0:
        parser.error("--samples >= 1, --approvals 1..23, --settle >= 0")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments))
