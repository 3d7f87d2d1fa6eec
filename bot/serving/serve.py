"""Serving Slack: the HTTP app (signature checked before anything is parsed) or Socket Mode, until stopped.

Both modes serve `GET /healthz`, `/readyz` and `/metrics` on PORT (bot.serving.probes); HTTP mode also serves
`POST /slack/events` there."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.runtime.bounds import WATCHDOG_STEP_SECONDS
from bot.serving.preflight import StartupError
from bot.serving.probes import add_probes
from bot.serving.signature import refusal

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.serving.socket_mode import WatchedSocketModeHandler

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
# How long the Socket Mode WebSocket may take to open once apps.connections.open has answered; slack_sdk
# itself would retry forever.
SOCKET_CONNECT_TIMEOUT_SECONDS = 30.0
_T = TypeVar("_T")


def web_app(runtime: Runtime, *, slack_events: bool | None = None) -> web.Application:
    """`GET /healthz`, `/readyz`, `/metrics`; and in HTTP mode (or with `slack_events`) `POST /slack/events`,
    where every request is authenticated on its raw body first. Socket Mode never serves the events path: there
    may be no signing secret to check it with (the README asks for none)."""
    app = web.Application()
    if slack_events if slack_events is not None else runtime.settings.slack_mode == "http":
        app.router.add_post(EVENTS_PATH, _events_handler(runtime))
    add_probes(app, runtime)
    return app


def _events_handler(runtime: Runtime) -> Callable[[web.Request], Awaitable[web.Response]]:
    secret = runtime.settings.slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise StartupError("SLACK_SIGNING_SECRET is not set: HTTP mode must verify Slack's signatures.")
    signing_key = secret.get_secret_value().encode("utf-8")
    ack_seconds = runtime.metrics.ack_latency
    ack_first = runtime.supervisor.ack_first

    async def events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        with ack_first.answering():  # background jobs wait until the answers are out (bot.runtime.ack_first)
            raw = await request.read()
            response = await _events(request, raw)
        ack_seconds.labels("http", _kind(request.content_type, raw)).observe(time.perf_counter() - started)
        return response

    async def _events(request: web.Request, raw: bytes) -> web.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        why = refusal(signing_key, raw, headers, time.time())
        if why is not None:
            # Anybody can send this: one line, never the body.
            log.warning("a request to %s was refused (401): %s (%d bytes)", EVENTS_PATH, why, len(raw))
            return web.Response(status=401, text="invalid signature")
        try:
            body = raw.decode("utf-8")
            payload = parsed(body, request.content_type)
        except (ValueError, RecursionError) as exc:
            # Signed with our secret yet unreadable: one line, without the body (it may hold user text).
            log.warning("a signed request to %s was refused (400): %s (%d bytes)", EVENTS_PATH, _why(exc), len(raw))
            return web.Response(status=400, text="unparseable body")
        return await to_aiohttp_response(await runtime.app.async_dispatch(_bolt_request(request, body, payload)))

    return events


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc)


def _kind(content_type: str, raw: bytes) -> str:
    """The request's kind in Socket Mode's words (envelope types), for the ack latency's label."""
    if content_type == "application/json" or raw[:1] == b"{":
        return "events_api"
    return "interactive" if raw.startswith(b"payload=") or b"&payload=" in raw[:4096] else "slash_commands"


def parsed(body: str, content_type: str) -> dict[str, Any]:
    """The body as bolt reads it (slack_bolt.request.internals.parse_body), read once; ValueError when it lacks
    what every request of its kind carries from Slack: bolt and our listeners index those fields directly and
    would answer 500 with a traceback."""
    if content_type == "application/json" or body.startswith("{"):
        event = json.loads(body)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError("not a JSON object with a type")
        return event
    form = dict(parse_qsl(body, keep_blank_values=True))  # a repeated field: its last value, as bolt's
    # A slash command always names who typed it where; without them no listener can answer.
    if "command" in form and not all(form.get(name) for name in ("user_id", "channel_id")):
        raise ValueError("a command without user_id or channel_id")
    if "payload" not in body:  # bolt's own test: "payload" anywhere makes the body an interaction's
        return form
    if "payload" not in form:
        return {}
    interaction = json.loads(form["payload"])
    _check_interaction(interaction)
    return cast(dict[str, Any], interaction)


def _bolt_request(request: web.Request, body: str, payload: dict[str, Any]) -> AsyncBoltRequest:
    """bolt's request of a body `parsed` already read: bolt parses only in HTTP mode, so it is made as Socket
    Mode's (from the parsed body) and then marked HTTP with its raw body, which bolt's signature check reads.
    The large bodies (a card's click carries the card) cost a parse each on the way to the ack."""
    bolt_request = AsyncBoltRequest(
        body=payload,
        query=request.query_string,
        headers=request.headers,  # type: ignore[arg-type]
        mode="socket_mode",
    )
    bolt_request.raw_body = body
    bolt_request.mode = "http"
    return bolt_request


def _check_interaction(payload: object) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise ValueError("payload is not a JSON object with a type")
    kind = payload["type"]
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise ValueError("an interaction without its user")
    view = payload.get("view")
    if kind.startswith("view_") and not (
        isinstance(view, dict) and isinstance(view.get("type"), str) and isinstance(view.get("callback_id"), str)
    ):
        raise ValueError("a view interaction without its view")
    if view is not None and not isinstance(view, dict):
        raise ValueError("view is not an object")
    state = view.get("state") if isinstance(view, dict) else None
    if kind == "view_submission" and not (isinstance(state, dict) and isinstance(state.get("values"), dict)):
        raise ValueError("a view submission without its state")
    actions = payload.get("actions", [])
    if kind == "block_actions" and not (
        isinstance(actions, list) and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        raise ValueError("block actions without action ids")
    if kind == "block_suggestion" and not isinstance(payload.get("action_id"), str):
        raise ValueError("an options request without its action id")


def bind(host: str, port: int) -> socket.socket:
    """Listen now, so that a port in use is a start-up error before anything else has started."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Reuse a port left in TIME_WAIT by a previous run; Linux still refuses a port someone listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise StartupError(f"PORT={port}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


async def serve(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    host: str = "0.0.0.0",
    sock: socket.socket | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve Slack in the configured mode until `stop` is set, then shut down gracefully.

    Raises StartupError when Socket Mode cannot connect; a stop while connecting ends it quietly."""
    try:
        sock = sock or bind(host, runtime.settings.port)
        await runtime.start_background()
        runner = web.AppRunner(web_app(runtime), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            port = sock.getsockname()[1]
            if runtime.settings.slack_mode == "http":
                log.info(
                    "serving Slack over HTTP on port %s at %s (and /healthz, /readyz, /metrics)", port, EVENTS_PATH
                )
                if on_ready is not None:
                    on_ready()
                await stop.wait()
            else:
                log.info("serving /healthz, /readyz and /metrics on port %s", port)
                await _serve_socket_mode(runtime, stop, on_ready)
        finally:
            await runner.cleanup()
    finally:
        await runtime.close()


async def _serve_socket_mode(runtime: Runtime, stop: asyncio.Event, on_ready: Callable[[], None] | None) -> None:
    from bot.serving.socket_mode import WatchedSocketModeHandler

    settings = runtime.settings
    assert settings.slack_app_token
    handler = WatchedSocketModeHandler(
        runtime.app,
        settings.slack_app_token.get_secret_value(),
        metrics=runtime.metrics,
        watchdog_seconds=settings.socket_mode_watchdog_seconds,
        ack_first=runtime.supervisor.ack_first,
    )
    runtime.socket_link.attach(handler.connected)
    try:
        connected = await until_stopped(stop, _connect(handler))
        if connected is None:
            return  # stopped while connecting
        log.info("connected to Slack in Socket Mode")
        # The watchdog is a supervisor loop: /healthz fails if it ever stops.
        runtime.supervisor.every("socket_watchdog", handler.interval, handler.watch, step_seconds=WATCHDOG_STEP_SECONDS)
        runtime.supervisor.start()
        if on_ready is not None:
            on_ready()
        await stop.wait()
    except TimeoutError:
        raise StartupError(
            f"SLACK_APP_TOKEN: the Socket Mode WebSocket did not open within {SOCKET_CONNECT_TIMEOUT_SECONDS:.0f} s"
        ) from None
    finally:
        with suppress(Exception):  # closing a half-open connection may fail; we are leaving anyway
            await handler.close_async()


async def _connect(handler: WatchedSocketModeHandler) -> bool:
    await asyncio.wait_for(handler.connect_async(), SOCKET_CONNECT_TIMEOUT_SECONDS)  # type: ignore[no-untyped-call]
    return True


async def until_stopped(stop: asyncio.Event, work: Awaitable[_T]) -> _T | None:
    """`work`'s result, or None when `stop` is set first (then `work` is cancelled)."""
    task: asyncio.Future[_T] = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    either: list[asyncio.Future[Any]] = [task, stopped]
    try:
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with suppress(asyncio.CancelledError, Exception):
        await task
    return None


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT: the first stops gracefully; a second one ends the process at once."""
    loop = asyncio.get_running_loop()

    def handle(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: exiting without waiting for the graceful stop", sig.name)
            os._exit(128 + sig.value)
        log.info("%s: stopping", sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle, sig)
