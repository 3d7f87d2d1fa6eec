"""Ack latency of the bot in HTTP mode, beside bare bolt AsyncApps that ack and make one Web API call.

Run from the repo root (about 45 s with the defaults):

    .venv/bin/python benchmarks/ack_latency.py [--requests 200] [--concurrency 20] [--isolated 60]

Slack gives an app 3 s to answer a request; the bot must ack at once and do its work afterwards. This measures
the time from sending a signed request to receiving the whole HTTP answer for:

- `/ddm-restore` with empty text (ours: ack, then open the form with views.open in the background);
- an Approve click on a pending request's card by a user who is NOT an approver ("UDAN"; ours: ack, then refuse
  with an ephemeral message), which does not submit a restore each time;

in three modes: isolated (one at a time, `--pause-ms` apart, so the previous request's background work is
done), back to back at concurrency 1, and at `--concurrency`.

The apps live in a server subprocess, so the load generator's CPU does not share their event loop: the bot as
the end-to-end tests run it (`tests.support.harness.running_bot`: HTTP mode, SQLite, the fake Slack Web API and
the DDM simulator in the same process, all on 127.0.0.1) with `REQUIRED_APPROVALS=2`, and on ports of their own
two bare apps with the same signing secret and Web API (the fake), served the same way (aiohttp,
POST /slack/events, to_bolt_request → async_dispatch → to_aiohttp_response): "bare" with
`process_before_response` at its default (False) and "bare-pbr" with True, as the bot runs. Apps alternate in
`--rounds` blocks; after each block the server settles (the fake Slack sees no new call for 0.1 s) and the bot's
work is counted: every command must have opened a form, every refused click must have posted its answer (then the
fake forgets the calls and views it recorded, so that its log does not grow into what the collector walks).

Fairness: the fake Slack answers Web API calls inside the server process, on the same event loop as the acks.
So the bare apps do not only ack: after the ack each makes the one call the bot makes for that request (views.open
of a small modal, chat.postEphemeral) in a task, through a client with one keep-alive session as the bot's
(`bot.app.build_runtime`). Every app's acks then compete with the fake's answers to its own background call;
what is left between ours and bare is the bot's own work (the form's view, the store read, the policy). And the
server calls gc.freeze() after start-up as production does (`bot.serving.startup`), so a full collection does
not walk the harness, the fake and the simulator's world (`--no-gc-freeze`: the what-if without it).

Then an approver clicks once (approval 1 of 2) and `--concurrency` other approvers click at the same moment
(the approval completes, the restore must be POSTed once): their ack latencies and the outcome are shown.

Printed: p50/p99/max ack latency, acks/s, the server process's CPU per request (ack and background work, with
the in-process fake Slack's share, alike for every app), its full garbage collections during the block (they stop
the event loop), for commands how long after it was sent each form's views.open reached the fake Slack (the bot
starts background work once no request is being acked, within 0.3 s: bot.runtime.ack_first; a trigger_id lives
3 s), and the ratio of p99s ours/bare (and ours/bare-pbr). Goal (issue 15): ours/bare p99 ≤ 1× at
`--concurrency`, every form opened, every ack far inside 3 s.
`--shared-slack-session` is a what-if from before the bot had a keep-alive session of its own: it replaces it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from benchmarks._ack_apps import GcPauses, bare_app, served
from benchmarks._stats import Sample, percentile, process_cpu_seconds, ratio, table, timed_run

try:
    from bot.playground import slack_payloads as sp
except ImportError:  # the tree before the reshape (7be6a7c) kept them with the tests
    from tests.support import slack_payloads as sp  # type: ignore[no-redef]
from bot.slack.blocks import APPROVE_ACTION
from tests.support.harness import CHANNEL, GROUP_MEMBERS, SECRET, BotHarness, running_bot

SCRIPT = str(Path(__file__).resolve())  # run again as the server subprocess
REQUESTER = "UALICE"
NON_APPROVER = "UDAN"
FIRST_APPROVER = "UBOB"
BURST_APPROVERS = [m for m in GROUP_MEMBERS if m != FIRST_APPROVER]  # approvers through the user group
APPS = ("bare", "bare-pbr", "ours")
APP_LABELS = {
    "bare": "bare (pbr default=False)",
    "bare-pbr": "bare (pbr=True)",
    "ours": "ours",
}
KINDS = ("command", "click")
KIND_LABELS = {"command": "/ddm-restore (form)", "click": "Approve by non-approver"}
GOAL_P99_RATIO = 1.0
SLACK_BUDGET_MS = 3000.0
Signed = tuple[bytes, dict[str, str]]


# ---- the server subprocess ---------------------------------------------------------------------------------


def control_app(h: BotHarness, request_id: str, stop: asyncio.Event, gc_pauses: GcPauses) -> web.Application:
    async def settle(_request: web.Request) -> web.Response:
        """Wait until the fake Slack has seen no new call for 0.1 s (10 s at most), then count the work done since
        the last settle and forget it: the fake's log of calls and views would grow through the run (thousands of
        views), and the full collections that stop the event loop would walk the harness's log, not the bot."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        last, stable = -1, 0
        while stable < 2 and loop.time() < deadline:
            count = len(h.fake.calls)
            stable = stable + 1 if count == last else 0
            last = count
            await asyncio.sleep(0.05)
        request = await h.runtime.store.get(request_id)
        assert request is not None
        counts = web.json_response(
            {
                "slack_calls": last,
                "views_open": len(h.fake.calls_of("views.open")),
                "refusals": len(h.ephemerals_for(NON_APPROVER)),
                "ephemerals": len(h.fake.calls_of("chat.postEphemeral")),
                "state": request.state.value,
                "approvals": len(request.approvals),
                "job_id": request.job_id,
                "thread_messages": len(h.thread_texts(request)),
                "restore_posts": len(h.sim.state.calls_for("recovery")),
                "gc_pauses": gc_pauses.pauses,
                "opened_at": {str(c.args.get("trigger_id")): c.at for c in h.fake.calls_of("views.open")},
            }
        )
        h.fake.calls.clear()
        h.fake.views.clear()
        return counts

    async def stop_server(_request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/settle", settle)
    app.router.add_post("/stop", stop_server)
    return app


@contextlib.asynccontextmanager
async def slack_session(h: BotHarness, *, shared: bool) -> AsyncIterator[None]:
    """What-if (`--shared-slack-session`): one keep-alive aiohttp session for all of the bot's Web API calls.

    Without a session, slack_sdk's AsyncWebClient opens a new aiohttp session (a new connection) per call;
    bolt copies the app client's session into each request's client, so setting it once covers both.
    """
    if not shared:
        yield
        return
    async with aiohttp.ClientSession() as session:
        h.runtime.client.session = session
        yield


async def serve_apps(*, shared_slack_session: bool, freeze_gc: bool) -> None:
    """The server side: print one JSON line with the addresses and the pending request, serve until /stop."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="server %(levelname)s %(name)s: %(message)s")
    gc_pauses = GcPauses()
    with tempfile.TemporaryDirectory(prefix="ack-bench-") as tmp:
        async with (
            running_bot(
                Path(tmp), job_seconds=5.0, sweep_interval=15.0, job_poll_interval_seconds=10.0, required_approvals=2
            ) as h,
            slack_session(h, shared=shared_slack_session),
        ):
            request = await h.request_restore(user=REQUESTER)
            assert request.message_ts is not None
            stop = asyncio.Event()
            # As production does after start-up (bot.serving.startup): what start-up allocated (the harness, the
            # fake, the simulator's world) stays out of the full collections that stop the event loop.
            if freeze_gc:
                gc.freeze()
            async with (
                aiohttp.ClientSession() as bare_session,
                aiohttp.ClientSession() as pbr_session,
                served(bare_app(h.fake.base_url, SECRET, bare_session, process_before_response=None)) as bare,
                served(bare_app(h.fake.base_url, SECRET, pbr_session, process_before_response=True)) as bare_pbr,
                served(control_app(h, request.id, stop, gc_pauses)) as control,
            ):
                info = {
                    "urls": {"bare": f"{bare}/slack/events", "bare-pbr": f"{bare_pbr}/slack/events", "ours": h.url},
                    "control": control,
                    "request_id": request.id,
                    "channel_id": request.channel_id,
                    "message_ts": request.message_ts,
                    "message": h.fake.message(request.channel_id, request.message_ts),
                    "response_url": h.fake.response_url("bench"),
                }
                print(json.dumps(info), flush=True)
                await stop.wait()


# ---- the load generator ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    pid: int
    urls: dict[str, str]
    control: str
    request_id: str
    channel_id: str
    message_ts: str
    message: dict[str, Any]
    response_url: str

    def command(self) -> Signed:
        return sp.slash_command(SECRET, text="", user_id=REQUESTER, channel_id=CHANNEL, response_url=self.response_url)

    def click(self, user: str) -> Signed:
        return sp.block_actions(
            SECRET,
            user_id=user,
            action_id=APPROVE_ACTION,
            block_id="card_actions",
            value=self.request_id,
            channel_id=self.channel_id,
            message_ts=self.message_ts,
            message=self.message,
            trigger_id=sp.new_trigger_id(),
            response_url=self.response_url,
        )

    def payload(self, kind: str) -> Signed:
        return self.command() if kind == "command" else self.click(NON_APPROVER)


@contextlib.asynccontextmanager
async def server_process(*, shared_slack_session: bool, freeze_gc: bool) -> AsyncIterator[Server]:
    command = [sys.executable, SCRIPT, "--serve"]
    if shared_slack_session:
        command.append("--shared-slack-session")
    if not freeze_gc:
        command.append("--no-gc-freeze")
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    control: str | None = None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise SystemExit("the server subprocess exited before it was ready (its errors are above)")
        info = json.loads(line)
        control = str(info["control"])
        yield Server(pid=process.pid, **info)
    finally:
        if process.returncode is None and control is None:
            process.terminate()  # it never got ready
        elif process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                    await session.post(f"{control}/stop")
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def settle(session: aiohttp.ClientSession, server: Server) -> dict[str, Any]:
    """Wait until the server's background work is done; returns the counts of what the bot did so far."""
    async with session.get(f"{server.control}/settle") as response:
        counts: dict[str, Any] = await response.json()
        return counts


async def fire(
    session: aiohttp.ClientSession, url: str, payloads: list[Signed], *, concurrency: int, pause: float = 0.0
) -> tuple[Sample, dict[str, float]]:
    """POST every payload once with `concurrency` workers; latency = request sent → whole answer received. Also
    when each was sent (time.monotonic(), the fake Slack's clock too), by its trigger_id."""
    pending = iter(payloads)
    sent: dict[str, float] = {}

    async def post() -> None:
        body, headers = next(pending)
        sent[dict(parse_qsl(body.decode())).get("trigger_id", "")] = time.monotonic()
        async with session.post(url, data=body, headers=headers) as response:
            text = await response.text()
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}: {text[:300]}")

    return await timed_run(post, calls=len(payloads), concurrency=concurrency, pause=pause), sent


@dataclass(frozen=True)
class Mode:
    title: str
    requests: int
    concurrency: int
    pause: float = 0.0  # seconds each worker waits after an answer: lets background work finish first


@dataclass
class Result:
    sample: Sample = field(default_factory=Sample)
    server_cpu: float = 0.0
    done: int = 0  # ours: forms opened / refusals posted
    gc_pauses: list[float] = field(default_factory=list)  # the server's full collections meanwhile (ms)
    form_ms: list[float] = field(default_factory=list)  # command sent → views.open reaching the fake Slack

    def add(self, other: Result) -> None:
        self.sample.add(other.sample)
        self.server_cpu += other.server_cpu
        self.done += other.done
        self.gc_pauses += other.gc_pauses
        self.form_ms += other.form_ms

    @property
    def server_cpu_ms(self) -> float:
        return self.server_cpu / self.sample.calls * 1000 if self.sample.calls else 0.0


async def run_block(
    session: aiohttp.ClientSession, server: Server, app: str, kind: str, requests: int, mode: Mode
) -> Result:
    payloads = [server.payload(kind) for _ in range(requests)]  # signed up front, outside the timing
    before = await settle(session, server)
    cpu_before = process_cpu_seconds(server.pid)
    sample, sent = await fire(session, server.urls[app], payloads, concurrency=mode.concurrency, pause=mode.pause)
    after = await settle(session, server)
    cpu_after = process_cpu_seconds(server.pid)
    counter = "views_open" if kind == "command" else "refusals"
    return Result(
        sample=sample,
        server_cpu=(cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else 0.0,
        done=int(after[counter]),  # the calls since `before`, which forgot the earlier ones
        gc_pauses=after["gc_pauses"][len(before["gc_pauses"]) :],
        form_ms=[(at - sent[t]) * 1000 for t, at in after["opened_at"].items() if t in sent],
    )


async def measure(
    session: aiohttp.ClientSession, server: Server, mode: Mode, rounds: int
) -> dict[tuple[str, str], Result]:
    """Every app and kind `mode.requests` times, in `rounds` blocks alternating the order of the apps."""
    results = {(kind, app): Result() for kind in KINDS for app in APPS}
    rounds = min(rounds, mode.requests)
    per_round = [mode.requests // rounds + (1 if i < mode.requests % rounds else 0) for i in range(rounds)]
    for index, count in enumerate(per_round):
        for kind in KINDS:
            for app in APPS if index % 2 == 0 else reversed(APPS):
                results[(kind, app)].add(await run_block(session, server, app, kind, count, mode))
    return results


@dataclass(frozen=True)
class Verdict:
    mode: str
    kind: str
    vs_bare: float
    vs_pbr: float


def report(mode: Mode, results: dict[tuple[str, str], Result]) -> list[Verdict]:
    rows: list[list[str]] = []
    verdicts = []
    for kind in KINDS:
        for app in APPS:
            result = results[(kind, app)]
            s = result.sample
            done = ""
            if app == "ours":
                what = "forms opened" if kind == "command" else "refusals posted"
                done = f"{what} {result.done}/{s.calls}"
            rows.append(
                [
                    KIND_LABELS[kind] if app == APPS[0] else "",
                    APP_LABELS[app],
                    f"{s.p(50):.2f}",
                    f"{s.p(99):.2f}",
                    f"{s.max_ms:.2f}",
                    "-" if mode.pause else f"{s.rate:,.0f}",
                    f"{result.server_cpu_ms:.2f}",
                    f"{len(result.gc_pauses)}" + (f" ({max(result.gc_pauses):.0f} ms)" if result.gc_pauses else ""),
                    f"{percentile(result.form_ms, 50):.1f} / {percentile(result.form_ms, 99):.1f}"
                    if result.form_ms
                    else "",
                    done,
                ]
            )
        ours = results[(kind, "ours")].sample.p(99)
        verdicts.append(
            Verdict(
                mode.title,
                kind,
                ratio(ours, results[(kind, "bare")].sample.p(99)),
                ratio(ours, results[(kind, "bare-pbr")].sample.p(99)),
            )
        )
    header = [
        "request",
        "app",
        "p50 ms",
        "p99 ms",
        "max ms",
        "acks/s",
        "server cpu ms/req",
        "full GCs (longest)",
        "form opened p50/p99 ms",
        "work done (ours)",
    ]
    print(f"\n{mode.title}: {mode.requests} requests per app and kind")
    print(table(header, rows))
    for kind, result in ((k, results[(k, "ours")]) for k in KINDS):
        if result.done != result.sample.calls:
            print(f"  WARNING: ours did its work for {result.done} of {result.sample.calls} {KIND_LABELS[kind]}")
    return verdicts


async def approvers(session: aiohttp.ClientSession, server: Server, concurrency: int) -> float:
    """One approver's click (1 of 2 approvals), then `concurrency` approvers at once (one completes it)."""
    single, _ = await fire(session, server.urls["ours"], [server.click(FIRST_APPROVER)], concurrency=1)
    first = await settle(session, server)
    burst_users = BURST_APPROVERS[:concurrency]
    clicks = [server.click(u) for u in burst_users]
    burst, _ = await fire(session, server.urls["ours"], clicks, concurrency=len(clicks))
    after = await settle(session, server)

    def outcome(counts: dict[str, Any]) -> str:
        return (
            f"{counts['state']}, approvals {counts['approvals']}/2, thread messages {counts['thread_messages']}, "
            f"restore POSTs {counts['restore_posts']}"
        )

    print("\napprovers clicking Approve (ours)")
    rows = [
        [f"1 approver ({FIRST_APPROVER})", f"{single.p(50):.2f}", "", f"{single.max_ms:.2f}", outcome(first)],
        [
            f"{len(clicks)} approvers at once",
            f"{burst.p(50):.2f}",
            f"{burst.p(99):.2f}",
            f"{burst.max_ms:.2f}",
            outcome(after),
        ],
    ]
    print(table(["clicks", "p50 ms", "p99 ms", "max ms", "request afterwards"], rows))
    return max(single.max_ms, burst.max_ms)


async def main(args: argparse.Namespace) -> None:
    modes = [
        Mode(
            f"isolated (concurrency 1, {args.pause_ms:g} ms between requests)", args.isolated, 1, args.pause_ms / 1000
        ),
        Mode("concurrency 1 (back to back)", args.requests, 1),
        Mode(f"concurrency {args.concurrency}", args.requests, args.concurrency),
    ]
    started = time.perf_counter()
    async with server_process(shared_slack_session=args.shared_slack_session, freeze_gc=args.gc_freeze) as server:
        connector = aiohttp.TCPConnector(limit=max(args.concurrency, len(BURST_APPROVERS)) + 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            warm_up = Mode("warm-up", args.warmup, args.concurrency)
            for kind in KINDS:  # connections, bolt's auth.test, caches, code paths
                for app in APPS:
                    await run_block(session, server, app, kind, args.warmup, warm_up)
            what_if = ", bot with a shared Slack session (what-if)" if args.shared_slack_session else ""
            what_if += "" if args.gc_freeze else ", no gc.freeze() (what-if)"
            print(f"server subprocess pid {server.pid}; request {server.request_id} pending{what_if}")
            verdicts: list[Verdict] = []
            worst = 0.0
            for mode in modes:
                results = await measure(session, server, mode, args.rounds)
                verdicts += report(mode, results)
                worst = max(worst, *(r.sample.max_ms for r in results.values()))
            worst = max(worst, await approvers(session, server, args.concurrency))
    print(f"\n(took {time.perf_counter() - started:.1f} s)\n")
    for v in verdicts:
        met = "met" if v.vs_bare <= GOAL_P99_RATIO else "NOT met"
        print(
            f"{v.mode:<48} {KIND_LABELS[v.kind]:<24} p99 ours/bare {v.vs_bare:.2f}x (goal <= {GOAL_P99_RATIO}x "
            f"{met}); ours/bare-pbr {v.vs_pbr:.2f}x"
        )
    verdict = "far inside" if worst < SLACK_BUDGET_MS / 10 else "inside" if worst < SLACK_BUDGET_MS else "OUTSIDE"
    print(f"slowest ack of the run: {worst:.1f} ms -> {verdict} Slack's 3 s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="requests per app and kind, per concurrency (200)")
    parser.add_argument("--concurrency", type=int, default=20, help="the concurrent run's workers (default 20)")
    parser.add_argument("--isolated", type=int, default=60, help="requests per app and kind, isolated (60)")
    parser.add_argument("--pause-ms", type=float, default=20.0, help="pause between isolated requests (20)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating blocks of the apps (default 2)")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up requests per app and kind (default 30)")
    parser.add_argument(
        "--shared-slack-session",
        action="store_true",
        help="what-if: give the bot's Slack client one keep-alive aiohttp session",
    )
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="what-if: the server does not call gc.freeze() after start-up (production does)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server subprocess
    args = parser.parse_args()
    if min(args.requests, args.concurrency, args.isolated, args.rounds, args.warmup) < 1 or args.pause_ms < 0:
        parser.error("--requests, --concurrency, --isolated, --rounds, --warmup must be >= 1, --pause-ms >= 0")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if arguments.serve:
            asyncio.run(serve_apps(shared_slack_session=arguments.shared_slack_session, freeze_gc=arguments.gc_freeze))
        else:
            asyncio.run(main(arguments))
