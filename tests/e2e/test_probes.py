"""/healthz, /readyz and /metrics in both modes, and the Socket Mode watchdog, against the fake Slack and the
DDM simulator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.app import Runtime, build_runtime
from bot.playground import slack_payloads as sp
from bot.playground.slack_api import FakeSlack
from bot.restore.request import RequestState as S
from bot.serving.serve import bind, serve
from bot.simulator import RunningSimulator
from tests.support.harness import CHANNEL, CREDENTIALS, harness_settings, populate, running_bot, until
from tests.support.http import local_http

P = "ddm_restore_bot"


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text (labels given must match; others may be present)."""
    for line in metrics.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


def base_of(url: str) -> str:
    return url.rsplit("/slack/events", 1)[0]


# ---- HTTP mode -----------------------------------------------------------------------------------------------


async def test_http_mode_health_readiness_and_metrics_after_a_restore(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        base = base_of(h.url)
        request = await h.request_restore()
        await h.click("approve_request", request, user="UBOB")
        await h.wait_request(lambda r: r.state is S.VERIFIED, request_id=request.id)
        await h.command("help", user="UDAN")
        # A refused click: the requester can't approve their own request.
        await h.click("approve_request", request, user="UALICE")

        health = await h.http.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True
        ready = await h.http.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["database"]["detail"] == "migrated" and checks["slack"]["ok"] and checks["ddm"]["ok"]

        answer = await h.http.get(f"{base}/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        m = answer.text
        assert sample(m, f"{P}_requests", state="VERIFIED") == 1.0
        assert sample(m, f"{P}_requests", state="PENDING") == 0.0
        for event in ("create", "approved", "submit", "job_submitted", "job_completed"):
            assert sample(m, f"{P}_transitions_total", event=event) == 1.0, event
        assert sample(m, f"{P}_approvals_total") == 1.0
        assert (sample(m, f"{P}_refusals_total", action="approve") or 0) >= 1.0
        recovery = "/v3/{project_id}/instances/{instance_id}/backups/recovery"
        assert sample(m, f"{P}_ddm_calls_total", route=recovery, method="POST", status="202") == 1.0
        assert sample(m, f"{P}_ddm_call_seconds_count", route="/v3/{project_id}/jobs", method="GET")
        assert sample(m, f"{P}_ddm_budget_limit") == 100_000.0
        assert (sample(m, f"{P}_ddm_budget_used") or 0) >= 1.0
        assert (sample(m, f"{P}_slack_api_calls_total", method="chat.postMessage") or 0) >= 2.0
        assert sample(m, f"{P}_slack_api_errors_total") is None  # no Slack error so far
        assert sample(m, f"{P}_ack_seconds_count", mode="http", kind="slash_commands") == 2.0
        assert (sample(m, f"{P}_ack_seconds_count", mode="http", kind="interactive") or 0) >= 5.0
        assert sample(m, f"{P}_job_duration_seconds_count", outcome="completed") == 1.0
        assert sample(m, f"{P}_outbox_depth") is not None and sample(m, f"{P}_outbox_oldest_age_seconds") is not None
        assert sample(m, f"{P}_loop_healthy", loop="announcer") == 1.0


async def test_slack_errors_are_counted_by_method(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        h.fake.fail_next("views.open", "invalid_arguments")
        await h.command("")
        await h.fake.wait_for("views.open")
        m = (await h.http.get(f"{base_of(h.url)}/metrics")).text
        assert sample(m, f"{P}_slack_api_errors_total", method="views.open", error="invalid_arguments") == 1.0


async def test_not_ready_when_the_database_is_behind_or_ddm_is_silent(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        base = base_of(h.url)
        await h.sim_fault(route="list_instances", kind="500", count=100)
        ready = await h.http.get(f"{base}/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["ddm"]["ok"] is False and checks["database"]["ok"]
        assert checks["ddm"]["detail"].startswith("no answer to a call") and "never answered" in checks["ddm"]["detail"]
        assert (await h.http.get(f"{base}/healthz")).status_code == 200  # liveness never waits on DDM
        skipped = await h.http.get(f"{base}/readyz", params={"skip": "ddm"})
        assert skipped.status_code == 200 and set(skipped.json()["checks"]) == {"database", "slack"}

        async with h.runtime.store.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        checks = (await h.http.get(f"{base}/readyz")).json()["checks"]
        assert checks["database"] == {"ok": False, "detail": "not migrated", "revision": "0001"}


# ---- Socket Mode -----------------------------------------------------------------------------------------------


@asynccontextmanager
async def socket_bot(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[FakeSlack, Runtime, str]]:
    async with FakeSlack(app_token="xapp-test-token") as fake, RunningSimulator(credentials=CREDENTIALS) as sim:
        populate(fake)
        fake.socket_ping_interval = overrides.pop("ping_interval", None)
        settings = harness_settings(
            fake, sim, tmp_path / "bot.sqlite3", slack_mode="socket", slack_app_token="xapp-test-token", **overrides
        )
        runtime = await build_runtime(settings, sweep_interval=5)
        sock = bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(runtime, stop, sock=sock))
        try:
            await fake.wait_socket_connected(timeout=10)
            yield fake, runtime, f"http://127.0.0.1:{port}"
        finally:
            stop.set()
            await asyncio.wait_for(serving, 15)


async def test_socket_mode_serves_health_readiness_and_metrics(tmp_path: Path) -> None:
    async with socket_bot(tmp_path) as (fake, runtime, base), local_http(timeout=10) as http:
        payload = sp.slash_command_payload(
            text="help", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("socket")
        )
        await fake.wait_socket_ack(await fake.socket_send("slash_commands", payload))

        health = await http.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "socket"
        assert "socket_watchdog" in health.json()["loops"]
        ready = await http.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["slack"] == {"ok": True, "detail": "Socket Mode connected"}
        # No signing secret needs to exist in Socket Mode: the events path is not served at all.
        assert (await http.post(f"{base}/slack/events", content=b"x=1")).status_code in (404, 405)

        m = (await http.get(f"{base}/metrics")).text
        assert sample(m, f"{P}_ack_seconds_count", mode="socket", kind="slash_commands") == 1.0
        assert (sample(m, f"{P}_slack_api_calls_total", method="apps.connections.open") or 0) >= 1.0
        assert sample(m, f"{P}_socket_mode_reconnects_total") is None

        await fake.socket_close_all()  # Slack drops the connection: slack_sdk reconnects, and it is counted
        await until(lambda: fake.socket_connection_count or None, 15, lambda: "never reconnected")
        m = (await http.get(f"{base}/metrics")).text
        await until(
            lambda: True if runtime.metrics.socket_reconnects.labels("slack")._value.get() >= 1 else None,
            15,
            lambda: f"reconnect not counted:\n{m}",
        )
    assert runtime.closed


async def test_socket_mode_not_ready_while_disconnected(tmp_path: Path) -> None:
    async with socket_bot(tmp_path) as (_fake, runtime, base), local_http(timeout=10) as http:

        async def down() -> bool:
            return False

        runtime.socket_link.attach(down)
        ready = await http.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["slack"] == {"ok": False, "detail": "Socket Mode not connected"}


async def test_watchdog_reconnects_a_silent_connection(tmp_path: Path) -> None:
    async with socket_bot(tmp_path, socket_mode_watchdog_seconds=0.6) as (fake, _runtime, base):
        opened = len(fake.calls_of("apps.connections.open"))
        await until(
            lambda: True if len(fake.calls_of("apps.connections.open")) > opened else None,
            10,
            lambda: "the watchdog never asked for a new connection",
        )
        await fake.wait_socket_connected(timeout=10)
        async with local_http(timeout=10) as http:
            m = (await http.get(f"{base}/metrics")).text
        assert (sample(m, f"{P}_socket_mode_reconnects_total", reason="watchdog") or 0) >= 1.0
        # Envelopes still reach the bot over the new connection.
        payload = sp.slash_command_payload(
            text="help", user_id="UALICE", channel_id=CHANNEL, response_url=fake.response_url("after")
        )
        await fake.wait_socket_ack(await fake.socket_send("slash_commands", payload), timeout=10)


async def test_watchdog_keeps_a_connection_slack_pings(tmp_path: Path) -> None:
    async with socket_bot(tmp_path, socket_mode_watchdog_seconds=0.6, ping_interval=0.1) as (fake, runtime, _base):
        # The watchdog looks again at a moment when a silent connection would have been replaced twice over.
        watchdog = await until(lambda: runtime.supervisor.loops.get("socket_watchdog"), 10, lambda: "no watchdog loop")
        past_the_limit = runtime.supervisor.clock.monotonic() + 2 * 0.6
        await until(
            lambda: True if (watchdog.last_ok or 0) > past_the_limit else None,
            10,
            lambda: "the watchdog stopped looking",
        )
        # (A ping answered late may make the fake drop the connection: that reconnect is slack_sdk's, not ours.)
        assert runtime.metrics.socket_reconnects.labels("watchdog")._value.get() == 0
        assert fake.socket_connection_count == 1
