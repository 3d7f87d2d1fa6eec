"""`GET /healthz`, `/readyz` and `/metrics`, served on PORT in both modes.

- /healthz (liveness): this process can still make progress. The event loop answers, and every background
  loop is alive and either in a step no longer than the step's bound (which covers the timeouts and retries of
  its calls) or waiting no longer than it asked to (bot.runtime.supervisor); 503 otherwise. It never waits on the
  database, Slack or DDM, and a loop failing because one of them is away is alive: a restart cures none of them.
- /readyz (readiness): the database answers and is migrated (at this release's revision, or a newer one a
  rolling deploy has just applied); Slack is connected (Socket Mode) or the signing secret is set (HTTP mode);
  DDM answered within the last minute and its latest call did not go unanswered. When nothing has asked DDM for
  half a minute, or its latest call went unanswered, readiness asks it itself (one list of instances, within the
  DDM call budget, at most once per half minute). The checks run side by side, each bounded in time.
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
    from bot.huawei.ddm_gateway import HuaweiDdmGateway

log = logging.getLogger(__name__)
DDM_FRESH_SECONDS = 60.0  # readiness: DDM answered within this
DDM_PROBE_AFTER_SECONDS = 30.0  # readiness asks DDM itself when nothing answered for this long
DDM_PROBE_TIMEOUT_SECONDS = 5.0  # at most; less when the Huawei timeouts are shorter
DATABASE_TIMEOUT_SECONDS = 3.0


class Readiness:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._probe_lock = asyncio.Lock()
        self._probed: float | None = None  # monotonic time of the last probe readiness made
        settings = runtime.settings
        self.probe_timeout = min(
            DDM_PROBE_TIMEOUT_SECONDS,
            settings.huaweicloud_connect_timeout_seconds + settings.huaweicloud_read_timeout_seconds,
        )

    async def check(self, skip: frozenset[str] = frozenset()) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Every check but those in `skip` (`database`, `slack`, `ddm`), side by side."""
        runs = {"database": self.database, "slack": self.slack, "ddm": self.ddm}
        names = [name for name in runs if name not in skip]
        results = await asyncio.gather(*(runs[name]() for name in names))
        checks = dict(zip(names, results, strict=True))
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
        link = self.runtime.socket_link
        if not link.started:
            return {"ok": False, "detail": "Socket Mode not started"}
        try:
            ok = await link.connected()
        except Exception as exc:
            return {"ok": False, "detail": f"Socket Mode: {type(exc).__name__}"}
        return {"ok": ok, "detail": "Socket Mode connected" if ok else "Socket Mode not connected"}

    async def ddm(self) -> dict[str, Any]:
        metrics = self.runtime.metrics
        since = metrics.seconds_since_ddm_answer()
        if since is None or since > DDM_PROBE_AFTER_SECONDS or self._silent():
            await self._probe(self._silent() or [self.runtime.ddm])
            since = metrics.seconds_since_ddm_answer()
        answered = "never answered" if since is None else f"answered {since:.0f} s ago"
        silent = self._silent()
        if silent:
            now = time.monotonic()
            ago = min(now - (gateway.client.unanswered_at or now) for gateway in silent)
            where = ", ".join(f"project {gateway.project_id}" for gateway in silent)
            return {"ok": False, "detail": f"no answer to a call {ago:.0f} s ago ({where}); {answered}"}
        return {"ok": since is not None and since <= DDM_FRESH_SECONDS, "detail": answered}

    def _silent(self) -> list[HuaweiDdmGateway]:
        """The gateways whose latest call got no answer (a timeout, a refused connection, a 5xx)."""
        found = []
        for gateway in self.runtime.gateways:
            client = gateway.client
            if client.unanswered_at is not None and (
                client.answered_at is None or client.answered_at < client.unanswered_at
            ):
                found.append(gateway)
        return found

    async def _probe(self, gateways: list[HuaweiDdmGateway]) -> None:
        """One list of instances each, unless a probe is under way or was made lately (a down DDM is not
        hammered)."""
        if self._probe_lock.locked():
            async with self._probe_lock:  # the one under way answers for this caller too
                return
        async with self._probe_lock:
            now = time.monotonic()
            if self._probed is not None and now - self._probed < DDM_PROBE_AFTER_SECONDS:
                return
            self._probed = now
            await asyncio.gather(*(self._ask(gateway) for gateway in gateways))

    async def _ask(self, gateway: HuaweiDdmGateway) -> None:
        try:
            async with asyncio.timeout(self.probe_timeout):
                await gateway.instances()
        except TimeoutError:
            gateway.client.no_answer()
            log.info("readiness: DDM did not answer within %.1f s", self.probe_timeout)
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
        drills = runtime.drills.statuses if runtime.drills is not None and runtime.drills.drills else None
        text = await runtime.metrics.render(
            health=runtime.health, store=runtime.store, budget=runtime.ddm.budget, drills=drills
        )
        return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", ready)
    app.router.add_get("/metrics", metrics)
