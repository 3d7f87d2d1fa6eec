"""IAM token issue and the API gateway's checks: `X-Auth-Token` or an `SDK-HMAC-SHA256` (AK/SK) signature.

Only the configured credentials are accepted. Tokens are random opaque strings kept in memory (a restart
invalidates them, like a revocation). Nothing here logs or returns a secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import PersonError
from bot.huawei import signer

SDK_DATE_SKEW = timedelta(minutes=15)
DEFAULT_PROJECT_NAME = "ap-southeast-1"
DOMAIN_ID = "0c8f4e7b2a9d4c6e8b1a3f5d7e9c2b4a"
USER_ID = "1d9e5f8c3b0a4d7f9c2b4e6a8d0f3c5b"


@dataclass(frozen=True)
class SimulatorCredentials:
    """The one identity the simulator accepts (filled from the bot's own settings, so one .env drives both)."""

    project_id: str
    ak: str | None = None
    sk: str | None = None
    security_token: str | None = None
    username: str | None = None
    password: str | None = None
    domain: str | None = None

    @property
    def token_auth_enabled(self) -> bool:
        return bool(self.username and self.password)

    @property
    def aksk_enabled(self) -> bool:
        return bool(self.ak and self.sk)

    def describe(self) -> str:
        """Which auth modes are on, for the start-up log: names only, never a secret."""
        modes = []
        if self.token_auth_enabled:
            modes.append(f"IAM token (user {self.username!r}, domain {self.domain or 'any'!r})")
        if self.aksk_enabled:
            modes.append("AK/SK signing" + (" with security token" if self.security_token else ""))
        return ", ".join(modes) or "none (every DDM call will be refused)"

    def __repr__(self) -> str:
        # Keep secrets out of reprs, tracebacks and logs.
        return (
            f"SimulatorCredentials(project_id={self.project_id!r}, token_auth={self.token_auth_enabled}, "
            f"aksk={self.aksk_enabled})"
        )


# ---- IAM ------------------------------------------------------------------------------------------------------


class IamError(PersonError):
    """A Keystone-style error answer: ``{"error": {"code", "message", "title"}}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.status, "message": self.message, "title": self.title}}


def bad_request(message: str) -> IamError:
    return IamError(400, message)


WRONG_PASSWORD = "The username or password is wrong."


@dataclass
class IssuedToken:
    project_id: str | None
    project_name: str | None
    issued_at: datetime
    expires_at: datetime
    revoked: bool = False


@dataclass(frozen=True)
class TokenRequest:
    username: str
    password: str
    domain: str
    project_id: str | None
    project_name: str | None


def parse_token_request(data: object) -> TokenRequest:
    """Read ``{"auth": {"identity": {"methods": ["password"], ...}, "scope": {"project": ...}}}``."""
    if not isinstance(data, dict) or not isinstance(data.get("auth"), dict):
        raise bad_request("Invalid input for field 'auth': it must be an object.")
    auth = data["auth"]
    identity = auth.get("identity")
    if not isinstance(identity, dict):
        raise bad_request("Invalid input for field 'identity': it must be an object.")
    methods = identity.get("methods")
    if not isinstance(methods, list) or methods != ["password"]:
        raise bad_request("Invalid input for field 'methods': only ['password'] is supported here.")
    password = identity.get("password")
    user = password.get("user") if isinstance(password, dict) else None
    if not isinstance(user, dict):
        raise bad_request("Invalid input for field 'password.user': it must be an object.")
    name, secret, domain = user.get("name"), user.get("password"), user.get("domain")
    if not isinstance(name, str) or not name or not isinstance(secret, str):
        raise bad_request("Invalid input for field 'user': 'name' and 'password' are required strings.")
    domain_name = domain.get("name") if isinstance(domain, dict) else None
    if not isinstance(domain_name, str) or not domain_name:
        raise bad_request("Invalid input for field 'domain': 'name' is required with a user name.")
    scope = auth.get("scope")
    project = scope.get("project") if isinstance(scope, dict) else None
    if scope is not None and not isinstance(project, dict):
        raise bad_request("Invalid input for field 'scope': a project scope is required.")
    project_id = project.get("id") if isinstance(project, dict) else None
    project_name = project.get("name") if isinstance(project, dict) else None
    if isinstance(project, dict) and not (
        (isinstance(project_id, str) and project_id) or (isinstance(project_name, str) and project_name)
    ):
        raise bad_request("Invalid input for field 'project': 'id' or 'name' is required.")
    return TokenRequest(
        username=name,
        password=secret,
        domain=domain_name,
        project_id=project_id if isinstance(project_id, str) else None,
        project_name=project_name if isinstance(project_name, str) else None,
    )


class TokenStore:
    """Issued tokens, by value. Tokens are opaque: only this store can tell what one means."""

    def __init__(self, credentials: SimulatorCredentials, ttl_seconds: int) -> None:
        self._credentials = credentials
        self._ttl = timedelta(seconds=ttl_seconds)
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, request: TokenRequest, now: datetime) -> tuple[str, IssuedToken]:
        creds = self._credentials
        if not (
            creds.token_auth_enabled
            and secrets.compare_digest(request.username, creds.username or "")
            and secrets.compare_digest(request.password.encode(), (creds.password or "").encode())
            and (creds.domain is None or request.domain == creds.domain)
        ):
            raise IamError(401, WRONG_PASSWORD)
        if request.project_id is not None and request.project_id != creds.project_id:
            # Keystone's answer when the user has no role in the project asked for.
            raise IamError(401, "The request you have made requires authentication.")
        scoped = request.project_id is not None or request.project_name is not None
        token = "MII" + secrets.token_urlsafe(96)
        record = IssuedToken(
            project_id=creds.project_id if scoped else None,
            project_name=(request.project_name or DEFAULT_PROJECT_NAME) if scoped else None,
            issued_at=now,
            expires_at=now + self._ttl,
        )
        self._tokens[token] = record
        return token, record

    def check(self, token: str, now: datetime) -> IssuedToken:
        """The token's record, or AuthFailure saying why it is not good."""
        record = self._tokens.get(token)
        if record is None:
            raise AuthFailure("decrypt token fail")
        if record.revoked:
            raise AuthFailure("token has been revoked")
        if now >= record.expires_at:
            raise AuthFailure("token expires")
        if record.project_id is None:
            raise AuthFailure("token is not scoped to a project")
        return record

    def revoke_all(self) -> int:
        live = [t for t in self._tokens.values() if not t.revoked]
        for record in live:
            record.revoked = True
        return len(live)

    def token_body(self, record: IssuedToken, request: TokenRequest, *, catalog: list[Any] | None) -> dict[str, Any]:
        domain = {"id": DOMAIN_ID, "name": request.domain}
        body: dict[str, Any] = {
            "expires_at": _iam_time(record.expires_at),
            "issued_at": _iam_time(record.issued_at),
            "methods": ["password"],
            "user": {"id": USER_ID, "name": request.username, "domain": domain, "password_expires_at": ""},
            "roles": [{"id": "0", "name": "op_service"}],
        }
        if record.project_id is not None:
            body["project"] = {"id": record.project_id, "name": record.project_name, "domain": domain}
        if catalog is not None:
            body["catalog"] = catalog
        return {"token": body}


def _iam_time(moment: datetime) -> str:
    # IAM's own style (differs from DDM's): 2026-11-28T09:05:22.701000Z
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- the gateway's check on DDM calls -------------------------------------------------------------------------


class AuthFailure(PersonError):
    """401 APIGW.0301; ``why`` completes "Incorrect IAM authentication information: <why>"."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Caller:
    mode: str  # "token" or "aksk"
    project_id: str | None  # the project the credentials are for (AK/SK: X-Project-Id when sent)


def authenticate(
    *,
    credentials: SimulatorCredentials,
    tokens: TokenStore,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Caller:
    token = headers.get("X-Auth-Token")
    if token:
        record = tokens.check(token, now)
        return Caller(mode="token", project_id=record.project_id)
    authorization = headers.get("Authorization", "")
    if authorization.startswith("SDK-HMAC-SHA256"):
        _check_aksk(credentials, method, path, raw_query, headers, body, now)
        return Caller(mode="aksk", project_id=headers.get("X-Project-Id") or credentials.project_id)
    raise AuthFailure("x-auth-token not found")


def _check_aksk(
    credentials: SimulatorCredentials,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> None:
    raw_date = headers.get("X-Sdk-Date")
    if not raw_date:
        raise AuthFailure("x-sdk-date not found")
    try:
        signed_at = datetime.strptime(raw_date, signer.SDK_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AuthFailure("x-sdk-date is invalid") from None
    if abs(now - signed_at) > SDK_DATE_SKEW:
        raise AuthFailure("x-sdk-date is not within 15 minutes of the server time")
    if not credentials.aksk_enabled:
        raise AuthFailure("access key not found")
    try:
        parsed = signer.parse_authorization(headers["Authorization"])
    except ValueError:
        raise AuthFailure("verify aksk signature fail") from None
    if not secrets.compare_digest(parsed.access_key.encode(), (credentials.ak or "").encode()):
        raise AuthFailure("access key not found")
    if credentials.security_token is not None:
        sent = headers.get("X-Security-Token", "")
        if not secrets.compare_digest(sent.encode(), credentials.security_token.encode()):
            raise AuthFailure("security token is invalid")
        if "x-security-token" not in parsed.signed_headers:
            raise AuthFailure("verify aksk signature fail")
    ok = signer.verify(
        method=method,
        path=path,
        raw_query=raw_query,
        headers=headers,
        body=body,
        ak=credentials.ak or "",
        sk=credentials.sk or "",
    )
    if not ok:
        raise AuthFailure("verify aksk signature fail")
