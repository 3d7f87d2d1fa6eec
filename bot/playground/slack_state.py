"""What FakeSlack knows (users, channels, messages, views, calls) and the set-up and inspection tests use."""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from bot.playground.slack_model import _T, FakeUser, RecordedCall, _Channel, _Drop, _Failure
from bot.playground.slack_scopes import Kind, manifest_scopes


class SlackState:
    """The state behind FakeSlack, its options, and the helpers tests use to set it up and read it."""

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
        scopes: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Options:

        bot_token / app_token: when set, only that exact token is accepted (else `invalid_auth`); by default any
            `xox*-` token is a valid Web API token and any `xapp-` token a valid app-level token.
        strict_channels: unknown channel ids give `channel_not_found` on chat.* (default: accepted, as if the bot
            were a member). conversations.info always needs a registered channel.
        single_use_triggers: a trigger_id used twice by views.open/views.push gives `exchanged_trigger_id`.
        trigger_ttl: seconds a trigger_id issued by `slack_payloads` stays valid (Slack: 3 s); None = no expiry.
        scopes: the bot token's scopes; a method needing another answers `missing_scope` (bot.playground.
            slack_scopes). Default: exactly those of manifest.yml. Tests narrow them (`scopes=manifest_scopes() -
            {"channels:history"}`) to see a missing one caught; the attribute can be changed while running.
        clock: the time posts are stamped with (their `ts`, which look-ups by `oldest` compare): a test that moves
            the bot's clock gives the fake the same one.
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
        self.scopes: frozenset[str] = manifest_scopes() if scopes is None else frozenset(scopes)
        self.clock = clock

        self.calls: list[RecordedCall] = []
        self.messages: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ephemerals: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, str] = {}  # user id -> the id of the App Home view published for them
        self.users: dict[str, FakeUser] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, _Channel] = {}
        self.socket_messages: list[dict[str, Any]] = []  # everything the app sent over Socket Mode, in order

        self._failures: defaultdict[str, deque[_Failure]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._late_answers: set[str] = set()
        self._holds: dict[str, asyncio.Event] = {}
        self._drops: defaultdict[str, deque[_Drop]] = defaultdict(deque)
        self._last_us = 0  # the last message ts handed out, in µs
        self._view_seq = itertools.count(1)
        self._view_stack: list[str] = []
        self._used_triggers: set[str] = set()
        self._tickets: set[str] = set()
        # Socket Mode: Slack pings each connection; None (the default) sends no pings, like an idle link.
        self.socket_ping_interval: float | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self.add_user(FakeUser(bot_user_id, "ddm-restore", is_bot=True))

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
        members: list[str] | None = None,
    ) -> None:
        self.channels[channel_id] = _Channel(
            channel_id,
            name,
            is_member=is_member,
            is_im=is_im,
            is_private=is_private,
            is_archived=is_archived,
            user=user,
            members=list(members or []),
        )

    def kind_of(self, channel: Any) -> Kind:
        """The kind of a conversation (which scopes conversations.* need on it); an unknown id by its prefix."""
        channel_id = str(channel or "")
        known = self.channels.get(channel_id)
        if known is not None:
            return "im" if known.is_im else "private" if known.is_private else "public"
        return "im" if channel_id[:1] in ("D", "U", "W") else "private" if channel_id[:1] == "G" else "public"

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

    def set_delay(self, method: str, seconds: float, *, after_processing: bool = False) -> None:
        """Every call of `method` is answered `seconds` late (0 removes the delay). With `after_processing` the
        call takes effect at once and only its answer is late (a client that dies meanwhile did post)."""
        self._late_answers.discard(method)
        if seconds > 0:
            self._delays[method] = seconds
            if after_processing:
                self._late_answers.add(method)
        else:
            self._delays.pop(method, None)

    def hold(self, method: str) -> asyncio.Event:
        """Every call of `method` is recorded, then kept waiting (not yet carried out) until the returned event is
        set: Slack slow to answer for as long as a test needs."""
        gate = self._holds[method] = asyncio.Event()
        return gate

    def drop_next(
        self,
        method: str,
        *,
        count: int = 1,
        when: Callable[[dict[str, Any]], bool] = lambda args: True,
        after_processing: bool = True,
    ) -> None:
        """The next `count` calls of `method` whose arguments match `when` get no answer: the fake cuts the
        connection (the client sees ServerDisconnectedError). By default it first does what was asked (the message
        is posted, the card updated), as when Slack acted and the answer was lost; with `after_processing=False`
        it drops the call unread. Drops queue up like `fail_next`; a call that is dropped is recorded with
        `dropped=True`."""
        self._drops[method].append(_Drop(count, when, after_processing))

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
