"""`GET /healthz`, `/readyz` and `/metrics`, served on PORT in both modes.

- /healthz (liveness): the event loop answers and every background loop is alive and cycling (the
  supervisor's health); 503 otherwise. It never waits on the database, Slack or DDM: a restart cures none.
- /readyz (readiness): the database answers and is migrated (at this release's revision, or a newer one a
  rolling deploy has just applied); Slack is connected (Socket Mode) or the signing secret is set (HTTP mode);
  DDM answered within the last minute. When nothing has asked DDM for half a minute, readiness asks it itself
  (one list of instances, within the DDM call budget, at most once per half minute).
  `?skip=ddm` (or `database`, `slack`, comma-separated) leaves checks out.
- /metrics: Prometheus text (bot.observability.metrics).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
DDM_FRESH_SECONDS = 60.0  # readiness: DDM answered within this
DDM_PROBE_AFTER_SECONDS = 30.0  # readiness asks DDM itself when nothing answered for this long
DDM_PROBE_TIMEOUT_SECONDS = 5.0
DATABASE_TIMEOUT_SECONDS = 3.0


class Readiness:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._probe_lock = asyncio.Lock()
        self._probed: float | None = None  # monotonic time of the last probe readiness made

    async def check(self, skip: frozenset[str] = frozenset()) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Every check but those in `skip` (`database`, `slack`, `ddm`)."""
        checks: dict[str, dict[str, Any]] = {}
        for name, run in (("database", self.database), ("slack", self.slack), ("ddm", self.ddm)):
            if name not in skip:
                checks[name] = await run()
        return all(entry["ok"] for entry in checks.values()), checks

    async def database(self) -> dict[str, Any]:
        from bot.store.migrate import current_revisions, script_directory

        try:
            async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), self.runtime.store.read() as conn:
                heads = set(await conn.run_sync(current_revisions))
        except Exception as exc:
            reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
            return {"ok": False, "detail": f"unreachable: {reason}"}
        script = script_directory()
        if heads == set(script.get_heads()):
            return {"ok": True, "detail": "migrated", "revision": ",".join(sorted(heads))}
        known = {revision.revision for revision in script.walk_revisions()}
        if heads and not heads <= known:  # a newer release migrated it (rolling deploy): still served
            return {"ok": True, "detail": "migrated by a newer release", "revision": ",".join(sorted(heads))}
        return {"ok": False, "detail": "not migrated", "revision": ",".join(sorted(heads)) or None}

    async def slack(self) -> dict[str, Any]:
        settings = self.runtime.settings
        if settings.slack_mode == "http":
            ok = settings.slack_signing_secret is not None
            return {"ok": ok, "detail": "signing secret set" if ok else "SLACK_SIGNING_SECRET is not set"}
        connected = self.runtime.socket_connected
        if connected is None:
            return {"ok": False, "detail": "Socket Mode not started"}
        try:
            ok = await connected()
        except Exception as exc:
            return {"ok": False, "detail": f"Socket Mode: {type(exc).__name__}"}
        return {"ok": ok, "detail": "Socket Mode connected" if ok else "Socket Mode not connected"}

    async def ddm(self) -> dict[str, Any]:
        metrics = self.runtime.metrics
        since = metrics.seconds_since_ddm_answer()
        if since is None or since > DDM_PROBE_AFTER_SECONDS:
            await self._probe()
            since = metrics.seconds_since_ddm_answer()
        ok = since is not None and since <= DDM_FRESH_SECONDS
        detail = "never answered" if since is None else f"answered {since:.0f} s ago"
        return {"ok": ok, "detail": detail}

    async def _probe(self) -> None:
        """One list of instances, unless one is under way or was tried lately (a down DDM is not hammered)."""
        if self._probe_lock.locked():
            async with self._probe_lock:  # the one under way answers for this caller too
                return
        async with self._probe_lock:
            now = time.monotonic()
            if self._probed is not None and now - self._probed < DDM_PROBE_AFTER_SECONDS:
                return
            self._probed = now
            try:
                async with asyncio.timeout(DDM_PROBE_TIMEOUT_SECONDS):
                    await self.runtime.ddm.instances()
            except Exception as exc:
                log.info("readiness: DDM did not answer (%s)", getattr(exc, "message", None) or type(exc).__name__)


def add_probes(app: web.Application, runtime: Runtime) -> None:
    readiness = Readiness(runtime)

    async def health(_request: web.Request) -> web.Response:
        # Alive when every background loop is alive and has finished a cycle lately (the supervisor decides).
        ok, loops = runtime.health()
        body = {"ok": ok, "mode": runtime.settings.slack_mode, "loops": loops}
        return web.json_response(body, status=200 if ok else 503)

    async def ready(request: web.Request) -> web.Response:
        # `?skip=ddm`: e.g. for an HTTP-mode load balancer that should keep sending Slack's requests while DDM is
        # down (people then get the bot's "DDM is unreachable" answers instead of Slack's timeout).
        skip = frozenset(name.strip() for name in request.query.get("skip", "").split(",") if name.strip())
        ok, checks = await readiness.check(skip)
        body = {"ready": ok, "mode": runtime.settings.slack_mode, "checks": checks}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        text = await runtime.metrics.render(health=runtime.health, store=runtime.store, budget=runtime.ddm.budget)
        return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", ready)
    app.router.add_get("/metrics", metrics)
