"""An HTTP client for the tests' local servers (the simulator, the fake Slack, the bot's own port).

It shares the bot's one TLS context (bot.huawei.tls): building a context reads the whole CA bundle, about 20 ms
of CPU per client, and a run makes hundreds of clients.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.huawei.tls import tls_context


def local_http(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=tls_context(), **options)
