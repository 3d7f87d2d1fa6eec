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
  The token comes from `Authorization: Bearer ...` (or, like real Slack, a `token` argument).
- `POST /response/<key>`: response URLs (`fake.response_url(key)`), recorded as method `response_url:<key>`.
- `GET /socket?ticket=...`: the Socket Mode WebSocket handed out by `apps.connections.open`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "user_auth_blocks")
"""Arguments that slack_sdk sends as JSON strings when it form-encodes (or query-encodes) a call."""

API_METHODS = (
    "api.test",
    "auth.test",
    "apps.connections.open",
    "views.open",
    "views.push",
    "views.update",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.getPermalink",
    "users.info",
    "usergroups.users.list",
    "conversations.info",
)

_T = TypeVar("_T")
_TS_BASE_US = 1_700_000_000_000_000
_TRIGGER_MARK = "fake"
_CANCEL = {"type": "plain_text", "text": "Cancel", "emoji": True}


@dataclass
class FakeUser:
    id: str
    name: str
    tz: str = "UTC"
    tz_offset: int = 0
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_bot: bool = False
    deleted: bool = False
    real_name: str | None = None


@dataclass
class RecordedCall:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() when the request arrived
    error: str | None = None  # the `error` the fake answered with; None for ok=true
    status: int = 200  # the HTTP status the fake answered with
    answered: bool = False  # True once the fake has answered (and updated messages/views)


@dataclass
class _Failure:
    error: str
    count: int
    status: int
    retry_after: int | None
    extra: dict[str, Any]


@dataclass
class _Channel:
    id: str
    name: str
    is_member: bool = True
    is_im: bool = False
    is_private: bool = False
    is_archived: bool = False
    user: str | None = None  # the other party of an IM


class SlackError(Exception):
    """Raised inside a method handler: the fake answers `{"ok": false, "error": error, **extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid(*messages: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _text_len(obj: Any) -> int:
    if isinstance(obj, dict):
        return len(str(obj.get("text", "")))
    return 0


def _action_ids_by_block(blocks: Iterable[Any]) -> dict[str, set[str]]:
    """block_id -> action_ids of the interactive elements in it (input element, accessory, actions elements)."""
    result: dict[str, set[str]] = {}
    for block in blocks:
        if not isinstance(block, dict) or not block.get("block_id"):
            continue
        elements: list[Any] = []
        for key in ("element", "accessory"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        if isinstance(block.get("elements"), list):
            elements.extend(block["elements"])
        ids = {str(e["action_id"]) for e in elements if isinstance(e, dict) and e.get("action_id")}
        result[str(block["block_id"])] = ids
    return result


class FakeSlack:
    """A fake Slack (Web API + response URLs + Socket Mode) on `127.0.0.1:<free port>`; an async context manager."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        team_domain: str = "fake-workspace",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0001",
        app_id: str = "A0001",
        bot_token: str | None = None,
        app_token: str | None = None,
        strict_channels: bool = False,
        single_use_triggers: bool = True,
        trigger_ttl: float | None = None,
    ) -> None:
        """Options:

        bot_token / app_token: when set, only that exact token is accepted (else `invalid_auth`); by default any
            `xox*-` token is a valid Web API token and any `xapp-` token a valid app-level token.
        strict_channels: unknown channel ids give `channel_not_found` on chat.* (default: accepted, as if the bot
            were a member). conversations.info always needs a registered channel.
        single_use_triggers: a trigger_id used twice by views.open/views.push gives `exchanged_trigger_id`.
        trigger_ttl: seconds a trigger_id issued by `slack_payloads` stays valid (Slack: 3 s); None = no expiry.
        """
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_token = bot_token
        self.app_token = app_token
        self.strict_channels = strict_channels
        self.single_use_triggers = single_use_triggers
        self.trigger_ttl = trigger_ttl

        self.calls: list[RecordedCall] = []
        self.messages: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ephemerals: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.views: dict[str, dict[str, Any]] = {}
        self.users: dict[str, FakeUser] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, _Channel] = {}
        self.socket_messages: list[dict[str, Any]] = []  # everything the app sent over Socket Mode, in order

        self._failures: defaultdict[str, deque[_Failure]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._ts_seq = itertools.count(1)
        self._view_seq = itertools.count(1)
        self._view_stack: list[str] = []
        self._used_triggers: set[str] = set()
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self.add_user(FakeUser(bot_user_id, "ddm-restore", is_bot=True))

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
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
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

    # --- addresses ------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started (use `async with FakeSlack() as fake:`)")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What `AsyncWebClient(base_url=...)` takes (trailing slash included)."""
        return f"{self.root_url}/api/"

    def response_url(self, key: str) -> str:
        """A response_url for payloads; POSTs to it are recorded as method `response_url:<key>`."""
        return f"{self.root_url}/response/{key}"

    # --- test set-up ----------------------------------------------------------------------------------------

    def add_user(self, user: FakeUser) -> None:
        self.users[user.id] = user

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        self.usergroups[group_id] = list(user_ids)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_member: bool = True,
        is_im: bool = False,
        is_private: bool = False,
        is_archived: bool = False,
        user: str | None = None,
    ) -> None:
        self.channels[channel_id] = _Channel(
            channel_id,
            name,
            is_member=is_member,
            is_im=is_im,
            is_private=is_private,
            is_archived=is_archived,
            user=user,
        )

    def dm_channel(self, user_id: str) -> str:
        """The IM channel id chat.postMessage(channel=<user id>) posts into (and answers with)."""
        return "D" + user_id[1:]

    def fail_next(
        self,
        method: str,
        error: str,
        *,
        count: int = 1,
        status: int = 200,
        retry_after: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """The next `count` calls of `method` answer `{"ok": false, "error": error, **extra}`.

        `ratelimited` (or status 429) always comes as HTTP 429 with `Retry-After` (default 1 s; 0 is allowed).
        `method` may be `response_url:<key>` (the body is then the plain-text error, as Slack's webhooks answer).
        Failures queue up: `fail_next(m, "a"); fail_next(m, "b")` fails the next call with a, the one after with b.
        """
        if error == "ratelimited" and status == 200:
            status = 429
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures[method].append(_Failure(error, count, status, retry_after, dict(extra or {})))

    def set_delay(self, method: str, seconds: float) -> None:
        """Every call of `method` is answered `seconds` late (0 removes the delay)."""
        if seconds > 0:
            self._delays[method] = seconds
        else:
            self._delays.pop(method, None)

    def set_view_state(self, view_id: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Simulate the user filling the modal: merge `{block_id: {action_id: {...}}}` into the view's state."""
        state = self.views[view_id].setdefault("state", {}).setdefault("values", {})
        for block_id, actions in values.items():
            state.setdefault(block_id, {}).update(copy.deepcopy(dict(actions)))

    # --- inspection -----------------------------------------------------------------------------------------

    def calls_of(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def thread(self, channel: str, parent_ts: str) -> list[dict[str, Any]]:
        """The replies (not the parent) posted with `thread_ts=parent_ts` in `channel`, oldest first."""
        return [m for m in self.messages.get(channel, []) if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        for m in self.messages.get(channel, []):
            if m["ts"] == ts:
                return m
        raise KeyError(f"no message {ts} in {channel}")

    def view_by_external_id(self, external_id: str) -> dict[str, Any]:
        for v in self.views.values():
            if external_id and v.get("external_id") == external_id:
                return v
        raise KeyError(external_id)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] = lambda c: True,
        *,
        timeout: float = 5.0,
        since: int = 0,
    ) -> RecordedCall:
        """The first answered call of `method` (among `calls[since:]`) matching `predicate`, waiting for it.

        "Answered" means the fake has already applied it: `messages`/`views` reflect the call when this returns.

        A predicate raising KeyError/IndexError/TypeError counts as "no match". On timeout raises AssertionError
        listing the recorded method names.
        """

        def find() -> RecordedCall | None:
            for c in self.calls[since:]:
                if c.method != method or not c.answered:
                    continue
                try:
                    if predicate(c):
                        return c
                except (KeyError, IndexError, TypeError):
                    continue
            return None

        try:
            return await self._wait(find, timeout)
        except TimeoutError:
            raise AssertionError(f"no matching {method} call within {timeout}s; recorded: {self.methods()}") from None

    async def _wait(self, find: Callable[[], _T | None], timeout: float) -> _T:
        cond = self._cond
        async with asyncio.timeout(timeout), cond:
            while True:
                found = find()
                if found is not None:
                    return found
                await cond.wait()

    @property
    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            raise RuntimeError("FakeSlack is not started")
        return self._changed

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

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

        delay = self._delays.get(method)
        if delay:
            await asyncio.sleep(delay)

        headers: dict[str, str] = {}
        status = 200
        try:
            if method not in API_METHODS:
                raise SlackError("unknown_method")
            self._check_token(method, token)
            failure = self._take_failure(method)
            if failure is not None:
                status = failure.status
                if failure.retry_after is not None:
                    headers["Retry-After"] = str(failure.retry_after)
                raise SlackError(failure.error, **failure.extra)
            body: dict[str, Any] = getattr(self, "_m_" + method.replace(".", "_"))(args)
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
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

    # --- HTTP: Socket Mode ----------------------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True, timeout=2.0)
        await ws.prepare(request)
        self._sockets.append(ws)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
            await self._notify()
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except json.JSONDecodeError:
                    continue
                if not isinstance(data, dict):
                    continue
                self.socket_messages.append(data)
                envelope_id = data.get("envelope_id")
                if isinstance(envelope_id, str):
                    self._acks[envelope_id] = data
                await self._notify()
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            await self._notify()
        return ws

    @property
    def socket_connection_count(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)

    async def wait_socket_connected(self, count: int = 1, *, timeout: float = 5.0) -> None:
        try:
            await self._wait(lambda: True if self.socket_connection_count >= count else None, timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.socket_connection_count} Socket Mode connection(s) after {timeout}s, wanted {count}; "
                f"recorded: {self.methods()}"
            ) from None

    async def socket_send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Send one envelope (`slash_commands`, `interactive`, `events_api`) to the newest connection.

        Waits (up to `timeout`) for a connection. `payload` is the request body as a dict: for slash commands the
        form fields (all strings), for interactivity the JSON payload itself (not wrapped in `payload=`).
        """
        await self.wait_socket_connected(timeout=timeout)
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type == "slash_commands" or (
                envelope_type == "interactive" and payload.get("type") in ("view_submission", "block_suggestion")
            )
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        live = [ws for ws in self._sockets if not ws.closed]
        await live[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def wait_socket_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The app's acknowledgement `{"envelope_id": ..., "payload": {...}?}` of one envelope."""
        try:
            return await self._wait(lambda: self._acks.get(envelope_id), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no Socket Mode ack for {envelope_id} within {timeout}s; acked: {sorted(self._acks)}"
            ) from None

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every connected client to reconnect, as Slack does every few hours (the old socket stays open)."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        for ws in [ws for ws in self._sockets if not ws.closed]:
            await ws.send_json(message)

    async def socket_close_all(self, code: int = 1001) -> None:
        """Drop every Socket Mode connection from the server side."""
        for ws in list(self._sockets):
            await ws.close(code=code)

    # --- Web API methods ------------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        us = _TS_BASE_US + 100 * next(self._ts_seq)
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _m_api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": args}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Fake Workspace",
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

    # views

    def _check_trigger(self, args: dict[str, Any]) -> None:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger_id:
            raise _invalid("missing required field: trigger_id")
        trigger_id = str(trigger_id)
        if self.single_use_triggers:
            if trigger_id in self._used_triggers:
                raise SlackError("exchanged_trigger_id")
            self._used_triggers.add(trigger_id)
        if self.trigger_ttl is not None:
            parts = trigger_id.split(".")
            if len(parts) == 3 and parts[2].startswith(_TRIGGER_MARK) and parts[1].isdigit():
                issued = int(parts[1]) / 1000
                if time.time() - issued > self.trigger_ttl:
                    raise SlackError("expired_trigger_id")

    def _validate_view(self, view: Any) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _invalid("missing required field: view")
        problems: list[str] = []
        vtype = view.get("type")
        if vtype not in ("modal", "home"):
            problems.append("must be one of modal, home [json-pointer:/view/type]")
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            problems.append("missing required field: blocks [json-pointer:/view/blocks]")
            blocks = []
        if len(blocks) > 100:
            problems.append("no more than 100 items allowed [json-pointer:/view/blocks]")
        for i, block in enumerate(blocks):
            if not isinstance(block, dict) or "type" not in block:
                problems.append(f"missing required field: type [json-pointer:/view/blocks/{i}]")
        if vtype == "modal":
            if not isinstance(view.get("title"), dict):
                problems.append("missing required field: title [json-pointer:/view/title]")
            for key in ("title", "submit", "close"):
                if _text_len(view.get(key)) > 24:
                    problems.append(f"must be less than 25 characters [json-pointer:/view/{key}/text]")
            has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
            if has_input and not view.get("submit"):
                problems.append("must provide submit when using input blocks [json-pointer:/view/submit]")
        if len(str(view.get("private_metadata") or "")) > 3000:
            problems.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
        for key in ("callback_id", "external_id"):
            if len(str(view.get(key) or "")) > 255:
                problems.append(f"must be less than 256 characters [json-pointer:/view/{key}]")
        block_ids = [b["block_id"] for b in blocks if isinstance(b, dict) and b.get("block_id")]
        if len(block_ids) != len(set(block_ids)):
            problems.append("block_id must be unique [json-pointer:/view/blocks]")
        if problems:
            raise _invalid(*problems)
        return view

    def _new_hash(self, seq: int) -> str:
        return f"{1_700_000_000 + seq}.{uuid.uuid4().hex[:8]}"

    def _store_view(
        self,
        view_in: dict[str, Any],
        *,
        view_id: str,
        root_view_id: str,
        previous_view_id: str | None,
        state: dict[str, Any],
    ) -> dict[str, Any]:
        seq = next(self._view_seq)
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view_in.get("type", "modal"),
            "blocks": copy.deepcopy(view_in.get("blocks", [])),
            "private_metadata": str(view_in.get("private_metadata") or ""),
            "callback_id": str(view_in.get("callback_id") or ""),
            "state": {"values": state},
            "hash": self._new_hash(seq),
            "title": copy.deepcopy(view_in.get("title")),
            "clear_on_close": _truthy(view_in.get("clear_on_close", False)),
            "notify_on_close": _truthy(view_in.get("notify_on_close", False)),
            "close": copy.deepcopy(view_in.get("close") or (_CANCEL if view_in.get("type") == "modal" else None)),
            "submit": copy.deepcopy(view_in.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": str(view_in.get("external_id") or ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = view
        return view

    def apply_view_response(self, view_id: str, response: Mapping[str, Any]) -> str | None:
        """Do what Slack does with a view_submission's ack: push / update / clear / errors.

        Returns the id of the view now on top (None when the modal closed)."""
        action = response.get("response_action")
        if action == "errors":
            return view_id
        if action == "push":
            view_in = self._validate_view(response.get("view"))
            self._check_external_id_free(view_in)
            new_id = self._new_view_id()
            root = self._view_stack[0] if self._view_stack else new_id
            self._store_view(view_in, view_id=new_id, root_view_id=root, previous_view_id=view_id, state={})
            self._view_stack.append(new_id)
            return new_id
        if action == "update":
            view_in = self._validate_view(response.get("view"))
            current = self.views[view_id]
            self._store_view(
                view_in,
                view_id=view_id,
                root_view_id=current["root_view_id"],
                previous_view_id=current["previous_view_id"],
                state={},
            )
            return view_id
        # "clear", or a plain ack on the top view: the modal (or that view) closes.
        if action == "clear":
            self._view_stack = []
            return None
        if self._view_stack and self._view_stack[-1] == view_id:
            self._view_stack.pop()
        return self._view_stack[-1] if self._view_stack else None

    def _check_external_id_free(self, view_in: dict[str, Any], *, except_view: str | None = None) -> None:
        external_id = view_in.get("external_id")
        if external_id and any(v["external_id"] == external_id and vid != except_view for vid, v in self.views.items()):
            raise SlackError("duplicate_external_id")

    def _new_view_id(self) -> str:
        return f"V{len(self.views) + 1:08d}"

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view_in = self._validate_view(args.get("view"))
        self._check_trigger(args)
        self._check_external_id_free(view_in)
        view_id = self._new_view_id()
        view = self._store_view(view_in, view_id=view_id, root_view_id=view_id, previous_view_id=None, state={})
        self._view_stack = [view_id]
        return {"ok": True, "view": view}

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        view_in = self._validate_view(args.get("view"))
        self._check_trigger(args)
        if len(self._view_stack) >= 3:
            raise SlackError("push_limit_reached")
        self._check_external_id_free(view_in)
        view_id = self._new_view_id()
        previous = self._view_stack[-1] if self._view_stack else None
        root = self._view_stack[0] if self._view_stack else view_id
        view = self._store_view(view_in, view_id=view_id, root_view_id=root, previous_view_id=previous, state={})
        self._view_stack.append(view_id)
        return {"ok": True, "view": view}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_in = self._validate_view(args.get("view"))
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if view_id:
            current = self.views.get(str(view_id))
        elif external_id:
            current = next((v for v in self.views.values() if v["external_id"] == external_id), None)
        else:
            raise _invalid("either view_id or external_id is required")
        if current is None:
            raise SlackError("not_found")
        expected_hash = args.get("hash")
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        self._check_external_id_free(view_in, except_view=current["id"])
        # Slack keeps what the user entered while block_id and action_id stay the same.
        still_there = _action_ids_by_block(view_in.get("blocks", []))
        state: dict[str, Any] = {}
        for block_id, actions in current.get("state", {}).get("values", {}).items():
            kept = {a: v for a, v in actions.items() if a in still_there.get(block_id, set())}
            if kept:
                state[block_id] = kept
        if not view_in.get("external_id"):
            view_in = {**view_in, "external_id": current["external_id"]}
        view = self._store_view(
            view_in,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
            state=state,
        )
        return {"ok": True, "view": view}

    # chat

    def _resolve_channel(self, channel: Any, *, need_member: bool = True) -> str:
        if not channel:
            raise SlackError("channel_not_found")
        channel_id = str(channel)
        if channel_id[0] in "UW":
            if channel_id not in self.users:
                raise SlackError("channel_not_found")
            dm = self.dm_channel(channel_id)
            if dm not in self.channels:
                self.add_channel(dm, channel_id, is_im=True, user=channel_id)
            return dm
        known = self.channels.get(channel_id)
        if known is None:
            if self.strict_channels:
                raise SlackError("channel_not_found")
            return channel_id
        if known.is_archived:
            raise SlackError("is_archived")
        if need_member and not known.is_member and not known.is_im:
            raise SlackError("not_in_channel")
        return channel_id

    @staticmethod
    def _check_content(args: dict[str, Any]) -> None:
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        blocks = args.get("blocks")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50):
            raise SlackError("invalid_blocks", response_metadata={"messages": ["[ERROR] no more than 50 items"]})
        if len(str(args.get("text") or "")) > 40_000:
            raise SlackError("msg_too_long")

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        self._check_content(args)
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
            "text": str(args.get("text") or ""),
            "blocks": copy.deepcopy(args.get("blocks") or []),
            "thread_ts": None,
        }
        if args.get("attachments"):
            message["attachments"] = copy.deepcopy(args["attachments"])
        if args.get("metadata"):
            message["metadata"] = copy.deepcopy(args["metadata"])
        thread_ts = args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            message["parent_user_id"] = self.bot_user_id
            for parent in self.messages.get(channel, []):
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = parent["ts"]
                    parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                    parent["latest_reply"] = ts
                    parent["reply_users"] = sorted({*parent.get("reply_users", []), self.bot_user_id})
                    message["parent_user_id"] = parent.get("user", self.bot_user_id)
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": self._public_message(message)}

    @staticmethod
    def _public_message(message: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in message.items() if v is not None}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        ts = args.get("ts")
        if not channel:
            raise SlackError("channel_not_found")
        if not ts:
            raise SlackError("message_not_found")
        try:
            message = self.message(str(channel), str(ts))
        except KeyError:
            raise SlackError("message_not_found") from None
        if message.get("user") != self.bot_user_id:
            raise SlackError("cant_update_message")
        if "text" in args or "blocks" in args or "attachments" in args:
            self._check_content({**{k: message.get(k) for k in ("text", "blocks", "attachments")}, **args})
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args and args[key] is not None:
                message[key] = copy.deepcopy(args[key])
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        public = self._public_message(message)
        return {"ok": True, "channel": str(channel), "ts": str(ts), "text": message["text"], "message": public}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        user = args.get("user")
        if not user:
            raise SlackError("user_not_found")
        self._check_content(args)
        ts = self._next_ts()
        self.ephemerals[channel].append(
            {
                "type": "message",
                "user": str(user),
                "ts": ts,
                "text": str(args.get("text") or ""),
                "blocks": copy.deepcopy(args.get("blocks") or []),
                "thread_ts": args.get("thread_ts"),
            }
        )
        return {"ok": True, "message_ts": ts}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        ts = str(args.get("message_ts") or "")
        if not channel:
            raise SlackError("channel_not_found")
        try:
            message = self.message(channel, ts)
        except KeyError:
            raise SlackError("message_not_found") from None
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    # directory

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        real_name = user.real_name or user.name
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": self.team_id,
                "name": user.name,
                "deleted": user.deleted,
                "color": "9f69e7",
                "real_name": real_name,
                "tz": user.tz,
                "tz_label": user.tz,
                "tz_offset": user.tz_offset,
                "profile": {
                    "real_name": real_name,
                    "real_name_normalized": real_name,
                    "display_name": user.name,
                    "display_name_normalized": user.name,
                    "team": self.team_id,
                },
                "is_admin": False,
                "is_owner": False,
                "is_primary_owner": False,
                "is_restricted": user.is_restricted,
                "is_ultra_restricted": user.is_ultra_restricted,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "updated": 1_700_000_000,
            },
        }

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group_id = str(args.get("usergroup") or "")
        if group_id not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group_id])}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel") or ""))
        if channel is None:
            raise SlackError("channel_not_found")
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "created": 1_700_000_000,
            "is_im": channel.is_im,
            "is_mpim": False,
            "is_archived": channel.is_archived,
            "is_org_shared": False,
            "context_team_id": self.team_id,
        }
        if channel.is_im:
            info.update(user=channel.user, is_user_deleted=False, priority=0)
        else:
            info.update(
                is_channel=not channel.is_private,
                is_group=channel.is_private,
                is_private=channel.is_private,
                is_general=False,
                is_shared=False,
                is_ext_shared=False,
                is_member=channel.is_member,
                name_normalized=channel.name,
                topic={"value": "", "creator": "", "last_set": 0},
                purpose={"value": "", "creator": "", "last_set": 0},
            )
        # Callers read is_member on every kind of conversation: an app can always write to its IMs.
        info.setdefault("is_member", True)
        return {"ok": True, "channel": info}


__all__ = ["FakeSlack", "FakeUser", "RecordedCall", "SlackError"]
