"""Socket Mode with a watchdog: bolt's handler, plus ack latency, reconnect counts and a reconnect when Slack
has gone quiet.

slack_sdk reconnects on its own when the WebSocket closes or its pings go unanswered; but a connection can
stay open and answer pings while no event reaches it any more (bolt-python#1529, after an idle reconnect).
Slack pings each connection and sends envelopes on it: when neither has come for `watchdog_seconds`, the
watchdog asks for a new connection. It runs as a supervisor loop, so /healthz sees it; the reconnect itself
runs beside it (it may take long against an unreachable Slack, and liveness must not depend on Slack).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import WSMsgType
from slack_bolt.adapter.socket_mode.async_base_handler import AsyncBaseSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.observability.metrics import Metrics
from bot.runtime.ack_first import AckFirst

log = logging.getLogger(__name__)
# Frames that show Slack still talks to this connection: envelopes (and hello, disconnect) and Slack's pings.
HEARD = frozenset({WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING})
PING_INTERVAL_SECONDS = 10.0  # slack_sdk's own pings (bolt's default)


def _listening(on_frame: Callable[[WSMsgType], None]) -> type[aiohttp.ClientWebSocketResponse]:
    class ListeningWebSocket(aiohttp.ClientWebSocketResponse):
        """Tells `on_frame` the type of every frame received (slack_sdk reads them all through receive())."""

        async def receive(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109
            message = await super().receive(timeout)
            on_frame(message.type)
            return message

    return ListeningWebSocket


class WatchedClient(SocketModeClient):
    """slack_sdk's aiohttp client, telling when it heard from Slack and when it opened a new session."""

    def __init__(self, *, on_frame: Callable[[WSMsgType], None], on_session: Callable[[bool], None], **kwargs: Any):
        super().__init__(**kwargs)
        self._on_session = on_session
        self._ws_class = _listening(on_frame)

    async def connect(self) -> None:
        # Every session we connect through reports its frames (slack_sdk may make a new one after a failure).
        if getattr(self.aiohttp_client_session, "_ws_response_class", None) is not self._ws_class:
            plain, self.aiohttp_client_session = (
                self.aiohttp_client_session,
                aiohttp.ClientSession(ws_response_class=self._ws_class),
            )
            await plain.close()
        before = self.current_session
        await super().connect()  # type: ignore[no-untyped-call]
        if self.current_session is not None and self.current_session is not before:
            self._on_session(before is not None)


class WatchedSocketModeHandler(AsyncBaseSocketModeHandler):
    """bolt's AsyncSocketModeHandler, measured and watched (see the module's docstring)."""

    app: AsyncApp
    client: WatchedClient

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        *,
        metrics: Metrics,
        watchdog_seconds: float,
        ack_first: AckFirst | None = None,
    ) -> None:
        self.app = app
        self.ack_first = ack_first or AckFirst()  # background jobs wait for the acks (bot.runtime.ack_first)
        self.app_token = app_token
        self.metrics = metrics
        self.watchdog_seconds = watchdog_seconds
        self.last_heard = time.monotonic()
        self._by_watchdog = False
        self._reconnecting: asyncio.Future[None] | None = None
        self.client = WatchedClient(
            app_token=app_token,
            logger=app.logger,
            web_client=app.client,
            ping_interval=PING_INTERVAL_SECONDS,
            on_frame=self._heard,
            on_session=self._session,
        )
        self.client.socket_mode_request_listeners.append(self.handle)

    @property
    def interval(self) -> float:
        """How often the watchdog looks."""
        return max(0.05, min(5.0, self.watchdog_seconds / 4)) if self.watchdog_seconds > 0 else 5.0

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        started, wall = time.perf_counter(), time.time()
        with self.ack_first.answering():
            response = await run_async_bolt_app(self.app, req)
            await send_async_response(client, req, response, wall)
        self.metrics.ack_latency.labels("socket", req.type).observe(time.perf_counter() - started)

    async def connected(self) -> bool:
        return bool(await self.client.is_connected())

    def _heard(self, kind: WSMsgType) -> None:
        if kind in HEARD:
            self.last_heard = time.monotonic()

    def _session(self, reconnect: bool) -> None:
        self.last_heard = time.monotonic()
        if reconnect and not self._by_watchdog:
            self.metrics.socket_reconnects.labels("slack").inc()

    async def watch(self) -> float:
        """One look (a supervisor loop step): reconnect when Slack has been silent too long."""
        if self.client.closed:
            return self.interval
        self.metrics.socket_connected.set(1 if await self.connected() else 0)
        if self.watchdog_seconds <= 0 or (self._reconnecting is not None and not self._reconnecting.done()):
            return self.interval
        silent = time.monotonic() - self.last_heard
        if silent >= self.watchdog_seconds:
            log.warning("Socket Mode: no envelope or ping from Slack for %.0f s; reconnecting", silent)
            self.metrics.socket_reconnects.labels("watchdog").inc()
            self.last_heard = time.monotonic()
            self._reconnecting = asyncio.ensure_future(self._reconnect())
        return self.interval

    async def _reconnect(self) -> None:
        self._by_watchdog = True
        try:
            await self.client.connect_to_new_endpoint(force=True)
        except Exception as exc:  # slack_sdk's monitor keeps trying too
            log.warning("Socket Mode: the watchdog's reconnect failed (%s)", type(exc).__name__)
        finally:
            self._by_watchdog = False

    async def close_async(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(BaseException):
                await self._reconnecting
        await self.client.close()  # type: ignore[no-untyped-call]
