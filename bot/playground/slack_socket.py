"""Socket Mode for FakeSlack: `apps.connections.open` and the WebSocket that carries envelopes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from bot.playground.slack_state import SlackState


class SocketModeMixin(SlackState):
    # --- HTTP: Socket Mode ----------------------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True, timeout=2.0, heartbeat=self.socket_ping_interval)
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

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}
