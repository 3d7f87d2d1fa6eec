"""DDM calls the bot makes, against running jobs and against people filling in the form at once, and what people
see when the DDM call budget (DDM_CALLS_PER_MINUTE, default 50) is spent.

Run from the repo root (about 2½ min with the defaults):

    .venv/bin/python benchmarks/ddm_budget.py [--jobs 1,10,50] [--poll 1] [--observe 30]
                                              [--people 1,5,10] [--repeats 3] [--budget 50]

Everything is real except Slack and Huawei Cloud: the whole bot (built by bot.app.build_runtime, served over
HTTP as the end-to-end tests serve it, SQLite, the budget counters in its database) against the fake Slack Web
API (bot.playground.slack_api) and the DDM simulator (bot.simulator), all in this process on 127.0.0.1. Each
scenario starts a fresh bot, database and simulator. DDM calls are counted by the simulator (GET /_sim/calls/count
and its call log, which stamps every call).

Running jobs: the simulator's world holds N long restore jobs and the bot's store N RUNNING requests following
them (seeded through the store's own moves, as tests/integration/test_follower.py does). The job poll interval is scaled
down to `--poll` seconds and the bot observed for `--observe` seconds after its first poll: calls per poll, and
calls per minute at the default 10 s poll (calls per poll × 6).

People: P people (P distinct restore targets) at the same moment each run /ddm-restore, choose orders-prod as
the source, submit step 1, wait for step 2 to be filled and submit it (suggested mapping kept); nobody retries.
Each burst starts with at least 20 s left in the calendar minute (the budget counts calendar minutes), so one
minute's budget is all it has; `--seconds-left 1` starts it 1 s before a minute ends instead (calls past the
budget then wait for the next minute rather than being refused). Shown: the DDM calls and the most in one calendar minute, cards posted, "DDM is
busy" answers by step, other refusals, and how long each step took (the budget lets a form load wait up to
1.5 s for a slot; step 1 and step 2 have 2.3 s for all their DDM checks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks._stats import table
from bot.app import build_runtime
from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack
from bot.restore.lifecycle import Event
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState
from bot.simulator import RunningSimulator, demo_world_json, world_from_json
from bot.simulator.demo import ORDERS_PROD_ID
from bot.simulator.model import JOB_COMPLETED, JOB_RUNNING, RESTORE_JOB_NAME
from bot.store.sql_store import RequestStore
from tests.support.harness import (
    CHANNEL,
    CREDENTIALS,
    GROUP_MEMBERS,
    PROJECT,
    SECRET,
    BotHarness,
    harness_settings,
    populate,
    serve_runtime,
)

T = TypeVar("T")
BUSY = "DDM is busy"
DEFAULT_POLL_SECONDS = 10.0
MINUTE = 60.0
MIN_SECONDS_LEFT = 20.0  # a burst starts with at least this much of its calendar minute left
STEP_TIMEOUT = 10.0
PEOPLE = GROUP_MEMBERS  # 22 people who may request (no requester restriction in the harness)
STEPS = ("open", "source", "step1", "step2 fill", "step2 submit", "card")
STEP_LABELS = {
    "open": "/ddm-restore → form open",
    "source": "source chosen → hint shown",
    "step1": "step 1 submitted → answer",
    "step2 fill": "step 2 pushed → filled",
    "step2 submit": "step 2 submitted → answer",
    "card": "modal closed → card posted",
}


# ---- the world -----------------------------------------------------------------------------------------------


def rds(n: int) -> dict[str, Any]:
    """A free RDS instance fit to receive one of orders-prod's data nodes."""
    return {
        "id": f"{n:032x}in01",
        "name": f"bench-rds-{n}",
        "engine": "MySQL",
        "version": "8.0.28",
        "data_volume_size": 100,
        "status": "ACTIVE",
        "vpc_name": "vpc-prod",
        "private_ip": f"10.0.{n // 250}.{n % 250 + 1}",
        "ddm_instance_id": None,
    }


def target_id(n: int) -> str:
    return f"{n:032x}in09"


def world_json(*, targets: int, running_jobs: int) -> dict[str, Any]:
    """The demo world, plus `targets` empty DDM instances (two free RDS instances each) of which the first
    `running_jobs` are being restored by a long job."""
    world = copy.deepcopy(demo_world_json())
    for n in range(targets):
        world["ddm_instances"].append({"id": target_id(n), "name": f"bench-target-{n:02d}", "created": -86_400})
        world["rds_instances"] += [rds(2 * n), rds(2 * n + 1)]
    for n in range(running_jobs):
        world["jobs"].append(
            {
                "id": f"{n + 1:032x}",
                "name": RESTORE_JOB_NAME,
                "instance_id": target_id(n),
                "created": -30,
                "status": JOB_RUNNING,
                "duration_seconds": 3600,
                "end_time": None,
                "outcome": JOB_COMPLETED,
                "fail_reason": None,
            }
        )
    return world


@contextlib.asynccontextmanager
async def bot_in(world: dict[str, Any], tmp: Path, **overrides: Any) -> AsyncIterator[BotHarness]:
    """tests.support.harness.running_bot with a world of our own: the real bot, the fake Slack, the simulator."""
    async with (
        FakeSlack() as fake,
        RunningSimulator(credentials=CREDENTIALS, world=world_from_json(world), job_seconds=3600) as sim,
    ):
        populate(fake)
        runtime = await build_runtime(harness_settings(fake, sim, tmp / "bot.sqlite3", **overrides), sweep_interval=15)
        await runtime.start_background()
        try:
            async with serve_runtime(runtime) as url, httpx.AsyncClient(timeout=30) as http:
                yield BotHarness(fake=fake, sim=sim, runtime=runtime, url=url, http=http)
        finally:
            await runtime.close()


async def sim_counts(h: BotHarness) -> Counter[str]:
    answer = await h.http.get(f"{h.sim.base_url}/_sim/calls/count")
    return Counter(answer.json()["by_route"])


async def sim_stamps(h: BotHarness) -> list[float]:
    """When the simulator received each DDM call (epoch seconds), from its call log."""
    answer = await h.http.get(f"{h.sim.base_url}/_sim/calls")
    return [datetime.fromisoformat(c["at"]).timestamp() for c in answer.json() if c["route"] != "iam_token"]


def most_in_a_minute(stamps: list[float]) -> int:
    """The most calls in one calendar minute (what the budget counts)."""
    return max(Counter(int(s // MINUTE) for s in stamps).values(), default=0)


async def running_request(store: RequestStore, n: int) -> str:
    """A RUNNING request following job n, through the store's own moves (as tests/integration/test_follower.py does)."""
    plan = RestorePlan(
        project_id=PROJECT,
        region="cn-north-4",
        source=NamedRef(id=ORDERS_PROD_ID, name="orders-prod"),
        target=NamedRef(id=target_id(n), name=f"bench-target-{n:02d}"),
        restore_time_ms=int(time.time() * 1000) - 3_600_000,
        mappings=(DataNodeMapping(source=NamedRef(id=f"s{n}in01"), target=NamedRef(id=rds(2 * n)["id"])),),
    )
    now = datetime.now(UTC)
    request = await store.create(
        plan=plan, requester_id="UALICE", channel_id=CHANNEL, required_approvals=1, now=now, expires_at=now
    )
    await store.approve(request.id, user_id="UBOB", fingerprint=request.fingerprint, now=now.replace(year=2000))
    async with store.write() as conn:  # straight to APPROVED: the follower only reads RUNNING requests
        await conn.exec_driver_sql(f"UPDATE restore_requests SET state = 'APPROVED' WHERE id = '{request.id}'")
    await store.transition(
        request.id, Event.SUBMIT, actor="system", now=now, values={"submitted_ms": int(now.timestamp() * 1000)}
    )
    await store.transition(request.id, Event.JOB_SUBMITTED, actor="system", now=now, values={"job_id": f"{n + 1:032x}"})
    return request.id


# ---- running jobs ------------------------------------------------------------------------------------------


@dataclass
class JobsRun:
    jobs: int
    polls: int
    calls: Counter[str]
    seconds: float
    per_minute_max: int
    followed: int  # requests whose progress the follower recorded

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def per_poll(self) -> float:
        return self.total / self.polls if self.polls else float("nan")


async def until(check: Callable[[], Awaitable[T | None]], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def jobs_scenario(jobs: int, *, poll: float, observe: float, budget: int) -> JobsRun:
    with tempfile.TemporaryDirectory(prefix="budget-bench-") as tmp:
        world = world_json(targets=jobs, running_jobs=jobs)
        async with bot_in(world, Path(tmp), job_poll_interval_seconds=poll, ddm_calls_per_minute=budget) as h:
            ids = [await running_request(h.runtime.store, n) for n in range(jobs)]
            first = (await sim_counts(h))["jobs"]

            async def polled() -> Counter[str] | None:
                counts = await sim_counts(h)
                return counts if counts["jobs"] > first else None

            before = await until(polled, poll * 3 + 5, "the follower's first poll")  # then a whole window
            started = time.time()
            await asyncio.sleep(observe)
            after = await sim_counts(h)
            seconds = time.time() - started
            calls = Counter({route: after[route] - before[route] for route in after if after[route] > before[route]})
            stamps = await sim_stamps(h)
            followed = 0
            for request_id in ids:
                request = await h.runtime.store.get(request_id)
                if request and request.state is RequestState.RUNNING and request.job_progress is not None:
                    followed += 1
            return JobsRun(jobs, calls["jobs"], calls, seconds, most_in_a_minute(stamps), followed)


def report_jobs(runs: list[JobsRun], *, poll: float, budget: int) -> list[str]:
    rows = []
    for run in runs:
        routes = ", ".join(f"{route} {n}" for route, n in sorted(run.calls.items()))
        rows.append(
            [
                str(run.jobs),
                f"{run.seconds:.0f}",
                str(run.polls),
                str(run.total),
                routes,
                f"{run.per_poll:.2f}",
                f"{run.total / run.seconds * MINUTE:.1f}",
                f"{run.per_poll * MINUTE / DEFAULT_POLL_SECONDS:.1f}",
                str(run.per_minute_max),
                f"{run.followed}/{run.jobs}",
            ]
        )
    header = [
        "running jobs",
        "observed s",
        "polls",
        "DDM calls",
        "by route",
        "calls/poll",
        f"rate at {poll:g} s poll (per min, budget aside)",
        f"calls/min at {DEFAULT_POLL_SECONDS:g} s poll (extrapolated)",
        "most in a calendar minute",
        "followed",
    ]
    print(f"\nRunning jobs: job poll {poll:g} s (default {DEFAULT_POLL_SECONDS:g} s), budget {budget}/min")
    print(table(header, rows))
    lines = []
    for jobs in sorted({r.jobs for r in runs}):
        mine = [r for r in runs if r.jobs == jobs]
        per_poll = statistics.median(r.per_poll for r in mine)
        at_default = per_poll * MINUTE / DEFAULT_POLL_SECONDS
        worst = max(r.per_minute_max for r in mine)
        within = "within" if at_default <= budget and worst <= budget else "OVER"
        lines.append(
            f"jobs {jobs:>3}: {per_poll:.2f} DDM calls per poll -> {at_default:.1f}/min at the default "
            f"{DEFAULT_POLL_SECONDS:g} s poll ({at_default / budget:.0%} of the {budget}/min budget, {within}); "
            f"most in a calendar minute at {poll:g} s poll: {worst}"
        )
    return lines


# ---- people filling in the form ----------------------------------------------------------------------------


@dataclass
class Person:
    user: str
    target: str
    steps: dict[str, float] = field(default_factory=dict)  # seconds each step took
    busy: str | None = None  # the step where "DDM is busy" stopped this person
    stopped: str | None = None  # another reason to stop, "step: message"
    card: bool = False
    started: float = 0.0
    total: float = 0.0


def busy_or(text: str, step: str, person: Person) -> bool:
    """Record why a step stopped the person; True when it did."""
    if BUSY in text:
        person.busy = step
    else:
        person.stopped = f"{step}: {text[:160]}"
    return True


class Opened:
    """Which step-1 views are taken: each person takes the next one views.open created (any will do)."""

    def __init__(self, h: BotHarness) -> None:
        self.h = h
        self.taken: set[str] = set()

    def claim(self) -> str:
        free = sorted(
            vid
            for vid, view in self.h.fake.views.items()
            if view.get("previous_view_id") is None and vid == view.get("root_view_id") and vid not in self.taken
        )
        self.taken.add(free[0])
        return free[0]


async def timed(person: Person, step: str, work: Awaitable[T]) -> T:
    started = time.perf_counter()
    try:
        return await work
    finally:
        person.steps[step] = time.perf_counter() - started


async def fill_in(h: BotHarness, person: Person, opened: Opened, go: asyncio.Event) -> None:
    await go.wait()
    person.started = time.perf_counter()
    try:
        await one_form(h, person, opened)
    finally:
        person.total = time.perf_counter() - person.started


async def one_form(h: BotHarness, person: Person, opened: Opened) -> None:
    user = person.user
    trigger = sp.new_trigger_id()

    async def open_form() -> str:
        await h.send(
            sp.slash_command(
                SECRET,
                text="",
                user_id=user,
                channel_id=CHANNEL,
                trigger_id=trigger,
                response_url=h.fake.response_url(user),
            )
        )
        await h.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == trigger, timeout=STEP_TIMEOUT)
        return opened.claim()

    view_id = await timed(person, "open", open_form())

    async def choose_source() -> str:
        since = len(h.fake.calls)
        await h.send(
            sp.block_actions(
                SECRET,
                user_id=user,
                action_id="source_instance",
                block_id="source_instance",
                view=h.fake.views[view_id],
                selected_option={"text": {"type": "plain_text", "text": ORDERS_PROD_ID}, "value": ORDERS_PROD_ID},
                action_type="external_select",
                state_values={"source_instance": {"source_instance": sp.external_select(ORDERS_PROD_ID)}},
            )
        )
        await h.fake.wait_for(
            "views.update", lambda c: c.args.get("view_id") == view_id, since=since, timeout=STEP_TIMEOUT
        )
        return json.dumps(h.fake.views[view_id]["blocks"], ensure_ascii=False)

    hint = await timed(person, "source", choose_source())
    if "DDM could not be asked" in hint and busy_or(hint, "source", person):
        return  # the person sees the hint's error instead of the restorable window
    answer = await timed(person, "step1", h.submit_step1(view_id, target=person.target, user=user))
    if answer.get("response_action") != "push" and busy_or(json.dumps(answer.get("errors")), "step1", person):
        return
    pushed = h.top_view[view_id]
    assert pushed is not None
    step2 = await timed(person, "step2 fill", h.wait_step2(pushed, timeout=STEP_TIMEOUT))
    if step2["callback_id"] != "ddm_restore_request" and busy_or(
        step2["blocks"][0]["text"]["text"], "step2 fill", person
    ):
        return
    answer = await timed(person, "step2 submit", h.submit_view(pushed, h.suggested_state(step2), user=user))
    if answer != {"response_action": "clear"} and busy_or(json.dumps(answer.get("errors")), "step2 submit", person):
        return

    async def card() -> bool:
        async def posted() -> bool | None:
            found = await h.runtime.store.recent(1, requester_id=user)
            if found and found[0].message_ts:
                return True
            refusals = [t for t in h.ephemerals_for(user) if "not created" in t]
            if refusals:
                busy_or(refusals[0], "card", person)
                return False
            return None

        return await until(posted, STEP_TIMEOUT, f"{user}'s card")

    person.card = await timed(person, "card", card())


async def wait_for_start(seconds_left: float | None) -> None:
    """Sleep until exactly `seconds_left` are left in the calendar minute; with None, until at least
    MIN_SECONDS_LEFT are."""
    into = time.time() % MINUTE
    if seconds_left is not None:
        await asyncio.sleep((MINUTE - seconds_left - into) % MINUTE)
    elif into > MINUTE - MIN_SECONDS_LEFT:
        await asyncio.sleep(MINUTE - into + 0.2)


@dataclass
class PeopleRun:
    people: list[Person]
    calls: Counter[str]
    per_minute_max: int
    minutes: int  # calendar minutes the burst's calls fell in
    seconds: float


async def people_scenario(count: int, *, budget: int, seconds_left: float | None) -> PeopleRun:
    with tempfile.TemporaryDirectory(prefix="budget-bench-") as tmp:
        world = world_json(targets=count, running_jobs=0)
        async with bot_in(world, Path(tmp), ddm_calls_per_minute=budget, job_poll_interval_seconds=10) as h:
            people = [Person(PEOPLE[n], target_id(n)) for n in range(count)]
            opened = Opened(h)
            go = asyncio.Event()
            tasks = [asyncio.create_task(fill_in(h, p, opened, go)) for p in people]
            await wait_for_start(seconds_left)
            before = await sim_counts(h)
            started = time.perf_counter()
            go.set()
            await asyncio.gather(*tasks)
            seconds = time.perf_counter() - started
            await asyncio.sleep(0.3)  # the announcer's last calls are Slack's, not DDM's: nothing more to count
            after = await sim_counts(h)
            stamps = await sim_stamps(h)
            calls = Counter({route: after[route] - before[route] for route in after if after[route] > before[route]})
            minutes = len({int(s // MINUTE) for s in stamps})
            return PeopleRun(people, calls, most_in_a_minute(stamps), minutes, seconds)


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"


def report_people(runs: list[PeopleRun], *, budget: int, seconds_left: float | None) -> list[str]:
    rows = []
    for run in runs:
        people = run.people
        busy = Counter(p.busy for p in people if p.busy)
        rows.append(
            [
                str(len(people)),
                str(sum(run.calls.values())),
                f"{run.per_minute_max} ({run.minutes} min)",
                f"{sum(p.card for p in people)}/{len(people)}",
                str(sum(busy.values())) + (f" ({', '.join(f'{s} {n}' for s, n in busy.items())})" if busy else ""),
                str(sum(1 for p in people if p.stopped)),
                *(ms([p.steps[s] for p in people if s in p.steps]) for s in STEPS),
                ms([p.total for p in people]),
            ]
        )
    header = [
        "people",
        "DDM calls",
        "most in a minute",
        "cards",
        '"DDM is busy" (step)',
        "other stops",
        *(f"{STEP_LABELS[s]} ms" for s in STEPS),
        "total ms",
    ]
    start = f"{seconds_left:g} s" if seconds_left is not None else f"at least {MIN_SECONDS_LEFT:g} s"
    print(f"\nPeople filling in the form at once: budget {budget}/min; each burst starts with {start} left in its")
    print("calendar minute; step times are median / max ms")
    print(table(header, rows))
    seen: set[int] = set()
    for run in runs:
        if len(run.people) not in seen:
            seen.add(len(run.people))
            routes = ", ".join(f"{route} {n}" for route, n in sorted(run.calls.items()))
            print(f"  {len(run.people)} people, DDM calls by route: {routes}")
    for run in runs:
        for p in run.people:
            if p.stopped:
                print(f"  {len(run.people)} people: {p.user} stopped at {p.stopped}")
    lines = []
    for count in sorted({len(r.people) for r in runs}):
        mine = [r for r in runs if len(r.people) == count]
        calls = [sum(r.calls.values()) for r in mine]
        worst = max(r.per_minute_max for r in mine)
        cards = [sum(p.card for p in r.people) for r in mine]
        busy = [sum(1 for p in r.people if p.busy) for r in mine]
        slowest = max(max(p.steps.values(), default=0.0) for r in mine for p in r.people)
        within = "within" if worst <= budget else "OVER"
        lines.append(
            f"people {count:>2}: {statistics.median(calls):.0f} DDM calls ({min(calls)}-{max(calls)}), most in a "
            f"calendar minute {worst} ({within} the {budget}/min budget); cards {statistics.median(cards):.0f}/"
            f"{count} ({min(cards)}-{max(cards)}); 'DDM is busy' {statistics.median(busy):.0f} "
            f"({min(busy)}-{max(busy)}); slowest step {slowest * 1000:.0f} ms"
        )
    return lines


# ---- main --------------------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    lines: list[str] = []
    if args.jobs:
        job_runs = [
            await jobs_scenario(jobs, poll=args.poll, observe=args.observe, budget=args.budget)
            for _ in range(args.job_repeats)
            for jobs in args.jobs
        ]
        lines += report_jobs(job_runs, poll=args.poll, budget=args.budget)
    if args.people:
        people_runs = [
            await people_scenario(count, budget=args.budget, seconds_left=args.seconds_left)
            for _ in range(args.repeats)
            for count in args.people
        ]
        lines += report_people(people_runs, budget=args.budget, seconds_left=args.seconds_left)
    print(f"\n(took {time.perf_counter() - started:.1f} s)\n")
    print("\n".join(lines))


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()] if text else []


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=numbers, default=[1, 10, 50], help="running jobs, e.g. 1,10,50 ('' skips)")
    parser.add_argument("--poll", type=float, default=1.0, help="job poll interval in seconds (default 1)")
    parser.add_argument("--observe", type=float, default=30.0, help="seconds to count the follower's calls (30)")
    parser.add_argument("--job-repeats", type=int, default=1, help="runs of each job count (default 1)")
    parser.add_argument("--people", type=numbers, default=[1, 5, 10], help="people at once, e.g. 1,5,10 ('' skips)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each people count (default 3)")
    parser.add_argument(
        "--seconds-left",
        type=float,
        default=None,
        help="start each burst with exactly this many seconds left in the minute (default: any time >= 20 s left)",
    )
    parser.add_argument("--budget", type=int, default=50, help="DDM_CALLS_PER_MINUTE (default 50, the default)")
    args = parser.parse_args()
    if max(args.people, default=0) > len(PEOPLE) or min(args.jobs + args.people, default=1) < 1:
        parser.error(f"--jobs and --people must be >= 1; at most {len(PEOPLE)} people")
    if args.seconds_left is not None and not 0 < args.seconds_left < MINUTE:
        parser.error("--seconds-left must be between 0 and 60")
    if args.poll <= 0 or args.observe <= 0 or args.budget < 1 or min(args.repeats, args.job_repeats) < 1:
        parser.error("--poll, --observe, --budget, --repeats must be positive")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments))
