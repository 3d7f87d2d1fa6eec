"""Authentication to Huawei Cloud as `httpx.Auth` flows: IAM token, or AK/SK request signing.

The DdmClient above never thinks about auth: it is given one of these and httpx runs the flow for every
request (see httpx's DigestAuth for the same shape: yield the request, look at the answer, maybe yield again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.huawei import signer
from bot.huawei.errors import DdmApiError, DdmUnavailable, error_from_response
from bot.huawei.models import parse_api_time
from bot.huawei.tls import tls_context

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TOKEN_HEADER = "X-Auth-Token"
# Refresh a cached token at least this long before IAM says it expires (tokens live 24 h).
DEFAULT_REFRESH_MARGIN = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _CachedToken:
    value: str
    expires_at: datetime
    refresh_at: datetime


class IamTokenProvider:
    """Gets a project-scoped IAM user token by password, caches it, and refreshes it once for all callers."""

    def __init__(
        self,
        *,
        iam_endpoint: str,
        username: str,
        password: str,
        domain: str,
        project_id: str,
        timeout: httpx.Timeout | None = None,
        deadline: float | None = None,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        clock: Clock = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = iam_endpoint.rstrip("/") + "/v3/auth/tokens"
        self._username = username
        self._password = password
        self._domain = domain
        self._project_id = project_id
        self._refresh_margin = refresh_margin
        self._clock = clock
        timeout = timeout or httpx.Timeout(10.0)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, verify=tls_context())
        # The token call in all (httpx's timeouts bound each read, not an answer that trickles in).
        self._deadline = deadline or (timeout.connect or 10.0) + (timeout.read or 10.0) + 1.0
        self._cached: _CachedToken | None = None
        self._lock = asyncio.Lock()
        self.refresh_count = 0

    async def token(self) -> str:
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        # Single flight: the first caller refreshes, the others wait and reuse its token.
        async with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            self._cached = await self._fetch()
            return self._cached.value

    def invalidate(self, token: str) -> None:
        """Forget `token` (the service refused it). A newer token fetched meanwhile is kept."""
        if self._cached is not None and self._cached.value == token:
            self._cached = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _fetch(self) -> _CachedToken:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._username,
                            "password": self._password,
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._http.post(self._url, params={"nocatalog": "true"}, json=body)
        except TimeoutError:
            raise DdmUnavailable(f"IAM did not answer within {self._deadline:.0f} s to give a token") from None
        except httpx.HTTPError as exc:
            raise DdmUnavailable(f"IAM could not be reached to get a token: {type(exc).__name__}") from None
        if response.status_code != 201:
            raise error_from_response(response)
        value = response.headers.get("X-Subject-Token")
        if not value:
            raise DdmApiError(
                status=response.status_code,
                error_code="IAM.NO_TOKEN",
                error_msg="IAM answered without an X-Subject-Token header",
            )
        now = self._clock()
        expires_at = _expires_at(response, default=now + timedelta(hours=24))
        lifetime = max(expires_at - now, timedelta(0))
        refresh_at = expires_at - min(self._refresh_margin, lifetime / 2)
        self.refresh_count += 1
        log.info("IAM token obtained for project %s, valid until %s", self._project_id, expires_at.isoformat())
        return _CachedToken(value=value, expires_at=expires_at, refresh_at=refresh_at)


def _expires_at(response: httpx.Response, *, default: datetime) -> datetime:
    try:
        raw: Any = response.json()["token"]["expires_at"]
        parsed = parse_api_time(raw)
    except (ValueError, KeyError, TypeError):
        return default
    return parsed if isinstance(parsed, datetime) else default


class TokenAuth(httpx.Auth):
    """Adds `X-Auth-Token`; on a 401 drops the token, gets a new one and repeats the request once.

    Repeating is safe even for the restore POST: a 401 comes from the gateway before the service acts.
    """

    def __init__(self, provider: IamTokenProvider) -> None:
        self.provider = provider

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.provider.token()
        request.headers[TOKEN_HEADER] = token
        response = yield request
        if response.status_code == 401:
            self.provider.invalidate(token)
            request.headers[TOKEN_HEADER] = await self.provider.token()
            yield request


class AkSkAuth(httpx.Auth):
    """Signs each request with `SDK-HMAC-SHA256`, as Huawei's official SDK does."""

    requires_request_body = True

    def __init__(
        self,
        *,
        ak: str,
        sk: str,
        project_id: str | None = None,
        security_token: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._ak = ak
        self._sk = sk
        self._project_id = project_id
        self._security_token = security_token
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        request.headers["X-Sdk-Date"] = signer.format_sdk_date(self._clock())
        if self._project_id:
            request.headers["X-Project-Id"] = self._project_id
        if self._security_token:
            request.headers["X-Security-Token"] = self._security_token
        # The query must go out exactly as it was signed: sorted and RFC 3986-encoded.
        pairs = signer.parse_query_string(request.url.query.decode("ascii"))
        query = signer.canonical_query_string(pairs)
        request.url = request.url.copy_with(query=query.encode("ascii") if query else None)
        # Sign only the headers we set ourselves, like the official SDK: hop-by-hop headers that httpx adds
        # (Connection, Accept-Encoding, Content-Length) may be rewritten by proxies on the way.
        signed = {
            name: request.headers[name]
            for name in ("Host", "Content-Type", "X-Sdk-Date", "X-Project-Id", "X-Security-Token")
            if name in request.headers
        }
        signature = signer.sign(
            method=request.method,
            path=request.url.path,
            query=pairs,
            headers=signed,
            body=request.content,
            ak=self._ak,
            sk=self._sk,
        )
        request.headers["Authorization"] = signature.authorization
