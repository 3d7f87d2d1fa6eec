"""FakeSlack: a real local HTTP server standing in for the Slack Web API, response URLs and Socket Mode.

It speaks the wire protocol the real clients speak, so tests drive the production code through
`AsyncWebClient(token="xoxb-...", base_url=fake.base_url)` and bolt's own adapters — nothing of ours is mocked.

    async with FakeSlack() as fake:
        fake.add_user(FakeUser("U1", "alice", tz="Europe/Berlin"))
        fake.add_channel("C1", "ops")
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        ...
        call = await fake.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C1")

Routes on `http://127.0.0.1:PORT`:
- `GET|POST /api/<method>`: the Web API. Arguments are read from the query string, a form body and a JSON body
  (merged in that order), the way slack_sdk sends them; JSON-valued form fields (`blocks`, `view`, ...) are decoded.
  The token comes from `Authorization: Bearer ...` (or, like real Slack, a `token` argument). A bot token has
  the scopes of manifest.yml (option `scopes`): a method needing another answers `missing_scope`, as Slack does.
- `POST /response/<key>`: response URLs (`fake.response_url(key)`), recorded as method `response_url:<key>`.
- `GET /socket?ticket=...`: the Socket Mode WebSocket handed out by `apps.connections.open`.
"""

from __future__ import annotations

import asyncio
import json
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

from bot.playground.slack_history import HistoryMixin
from bot.playground.slack_model import API_METHODS, JSON_FIELDS, FakeUser, RecordedCall, SlackError, _Drop, _Failure
from bot.playground.slack_scopes import depends_on_kind, scope_needed
from bot.playground.slack_socket import SocketModeMixin
from bot.playground.slack_views import ViewsMixin


class FakeSlack(ViewsMixin, HistoryMixin, SocketModeMixin):
    """A fake Slack (Web API + response URLs + Socket Mode) on `127.0.0.1:<free port>`; an async context manager."""

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        # Closing cancels answers still on their way (a late answer to a client that died) after a moment, not 60 s.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutdown")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- HTTP: Web API --------------------------------------------------------------------------------------

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query.items())
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype.startswith("multipart/"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                raw = await request.read()
                if raw:
                    if ctype == "application/json":
                        try:
                            body = json.loads(raw)
                        except ValueError:
                            raise SlackError("invalid_json") from None
                        if not isinstance(body, dict):
                            raise SlackError("invalid_json")
                        args.update(body)
                    else:
                        args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        for key in JSON_FIELDS:
            value = args.get(key)
            if isinstance(value, str) and value[:1] in ("[", "{"):
                try:
                    args[key] = json.loads(value)
                except json.JSONDecodeError:
                    raise SlackError(f"invalid_{key}") from None
        return args

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            return token or None
        return None

    def _check_token(self, method: str, token: str | None) -> None:
        if method == "api.test":
            return
        if not token:
            raise SlackError("not_authed")
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                raise SlackError("not_allowed_token_type")
            if self.app_token is not None and token != self.app_token:
                raise SlackError("invalid_auth")
            return
        if token.startswith("xapp-"):
            raise SlackError("not_allowed_token_type")
        if not token.startswith("xox") or (self.bot_token is not None and token != self.bot_token):
            raise SlackError("invalid_auth")

    def _check_scope(self, method: str, args: dict[str, Any], token: str | None) -> None:
        if token is None or token.startswith("xapp-"):
            return  # app-level tokens have scopes of their own (connections:write)
        kind = self.kind_of(args.get("channel")) if depends_on_kind(method) else "public"
        needed = scope_needed(method, kind)
        if needed is not None and needed not in self.scopes:
            raise SlackError("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    def _take_drop(self, method: str, args: dict[str, Any]) -> _Drop | None:
        queue = self._drops.get(method)
        if not queue:
            return None
        drop = queue[0]
        try:
            if not drop.when(args):
                return None
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        drop.count -= 1
        if drop.count <= 0:
            queue.popleft()
        return drop

    async def _drop(self, request: web.Request, call: RecordedCall) -> web.Response:
        """No answer: the connection is cut (the client sees ServerDisconnectedError)."""
        call.dropped = call.answered = True
        call.status = 0
        await self._notify()
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never sent: the transport is gone

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.count -= 1
        if failure.count <= 0:
            queue.popleft()
        return failure

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = self._bearer(request)
        call = RecordedCall(method=method, args={}, token=token, at=time.monotonic())
        try:
            args = await self._read_args(request)
            if token is None and isinstance(args.get("token"), str):
                token = call.token = args["token"]
            args.pop("token", None)
            call.args = args
        except SlackError as exc:
            self.calls.append(call)
            return await self._answer(call, {"ok": False, "error": exc.error})
        self.calls.append(call)
        await self._notify()

        gate = self._holds.get(method)
        if gate is not None:
            await gate.wait()
        delay = self._delays.get(method)
        late = method in self._late_answers
        if delay and not late:
            await asyncio.sleep(delay)
        drop = self._take_drop(method, args)
        if drop is not None and not drop.after_processing:
            return await self._drop(request, call)

        headers: dict[str, str] = {}
        if token and not token.startswith("xapp-"):
            headers["X-OAuth-Scopes"] = ",".join(sorted(self.scopes))  # as Slack answers every Web API call
        status = 200
        try:
            if method not in API_METHODS:
                raise SlackError("unknown_method")
            self._check_token(method, token)
            self._check_scope(method, args, token)
            failure = self._take_failure(method)
            if failure is not None:
                status = failure.status
                if failure.retry_after is not None:
                    headers["Retry-After"] = str(failure.retry_after)
                raise SlackError(failure.error, **failure.extra)
            body: dict[str, Any] = getattr(self, "_m_" + method.replace(".", "_"))(args)
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
        if delay and late:
            await self._notify()  # what it did can be seen before its answer leaves
            await asyncio.sleep(delay)
        if drop is not None:
            return await self._drop(request, call)
        return await self._answer(call, body, status=status, headers=headers)

    async def _answer(
        self, call: RecordedCall, body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        call.status = status
        call.error = None if body.get("ok") else str(body.get("error"))
        call.answered = True
        await self._notify()
        return web.json_response(body, status=status, headers=headers)

    # --- HTTP: response URLs --------------------------------------------------------------------------------

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        method = "response_url:" + request.match_info["key"]
        raw = await request.read()
        try:
            args: dict[str, Any] = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            args = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        call = RecordedCall(method=method, args=args, token=None, at=time.monotonic(), answered=True)
        self.calls.append(call)
        failure = self._take_failure(method)
        if failure is not None:
            call.status, call.error = failure.status, failure.error
        await self._notify()
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
            return web.Response(status=failure.status, text=failure.error, headers=headers)
        return web.Response(text="ok", content_type="text/html")


__all__ = ["FakeSlack", "FakeUser", "RecordedCall", "SlackError"]
