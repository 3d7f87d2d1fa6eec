"""The page: static HTML/JS/CSS and a small JSON API the page calls (state to draw, and what the person did)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.playground.people import PEOPLE
from bot.playground.relay import RelayError, SlackRelay

STATIC = Path(__file__).parent / "static"
FILES = {"playground.js": "text/javascript", "playground.css": "text/css"}
Handler = Callable[[SlackRelay, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def page_app(relay: SlackRelay) -> web.Application:
    app = web.Application()
    known = {p.user.id for p in PEOPLE}

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def static(request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in FILES:  # only our own files, never a path from the request
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers={"Content-Type": FILES[name], "Cache-Control": "no-store"})

    async def directory(_request: web.Request) -> web.Response:
        return web.json_response(relay.slack.directory())

    async def state(request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if user not in known:
            raise web.HTTPBadRequest(text="unknown user")
        return web.json_response(relay.slack.snapshot(user))

    def post(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                raise web.HTTPBadRequest(text="the body is not JSON") from None
            if not isinstance(body, dict) or body.get("user") not in known:
                raise web.HTTPBadRequest(text="unknown user")
            try:
                result = await handler(relay, str(body["user"]), body)
            except (RelayError, KeyError) as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=502)
            return web.json_response({"ok": True, **result})

        return route

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/directory", directory)
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/command", post(_command))
    app.router.add_post("/api/action", post(_action))
    app.router.add_post("/api/options", post(_options))
    app.router.add_post("/api/submit", post(_submit))
    app.router.add_post("/api/close", post(_close))
    app.router.add_post("/api/home", post(_home))
    return app


async def _command(relay: SlackRelay, user: str, body: dict[str, Any]) -> dict[str, Any]:
    text = str(body.get("text") or "").strip()
    command, _, rest = text.partition(" ")
    if not command.startswith("/"):
        return {"notice": "Type a command, e.g. /ddm-restore"}
    if command != "/ddm-restore":
        return {"notice": f"{command} is not a command in this workspace; try /ddm-restore"}
    await relay.command(user, rest.strip(), command=command)
    return {}


async def _action(relay: SlackRelay, user: str, body: dict[str, Any]) -> dict[str, Any]:
    action = dict(body["action"])
    if body.get("view_id"):
        await relay.view_action(user, str(body["view_id"]), action, dict(body.get("state") or {}))
    else:
        await relay.message_action(user, str(body["ts"]), action)
    return {}


async def _options(relay: SlackRelay, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return await relay.options(
        user, str(body["view_id"]), str(body["action_id"]), str(body["block_id"]), str(body.get("value") or "")
    )


async def _submit(relay: SlackRelay, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"errors": await relay.submit(user, str(body["view_id"]), dict(body.get("state") or {}))}


async def _home(relay: SlackRelay, user: str, _body: dict[str, Any]) -> dict[str, Any]:
    await relay.home_opened(user)
    return {}


async def _close(relay: SlackRelay, user: str, body: dict[str, Any]) -> dict[str, Any]:
    await relay.close(user, everything=bool(body.get("everything")))
    return {}
