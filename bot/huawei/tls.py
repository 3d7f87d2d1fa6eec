"""One TLS context for every Huawei Cloud client of the process (DDM and IAM).

Building a context reads the whole CA bundle, about 20 ms of CPU each time: a context per client made each
environment's clients, and each test's, pay it again. A context is safe to share between clients.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
