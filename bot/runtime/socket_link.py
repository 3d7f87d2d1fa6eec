"""Whether Slack's Socket Mode connection is up, for readiness: serving attaches the handler's own check once the
handler exists (after the probes are already served); in HTTP mode nothing is attached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class SocketLink:
    def __init__(self) -> None:
        self._connected: Callable[[], Awaitable[bool]] | None = None

    def attach(self, connected: Callable[[], Awaitable[bool]]) -> None:
        self._connected = connected

    @property
    def started(self) -> bool:
        return self._connected is not None

    async def connected(self) -> bool:
        return self._connected is not None and await self._connected()
