"""One exception hierarchy for everything that can go wrong talking to Huawei Cloud.

Every error carries what a person needs to act on it (HTTP status, the service's error code and message, the
request id to quote to Huawei support) and never a secret. `str(error)` is a one-line message fit for a user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx

from bot.errors import DependencyError

REQUEST_ID_HEADERS = ("X-Request-Id", "X-Openstack-Request-Id", "X-Apig-Request-Id")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


class HuaweiError(DependencyError):
    """Base of every error raised by `bot.huawei`."""


class InvalidInput(HuaweiError, ValueError):
    """A call was refused before anything was sent: the named input is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CallInfo:
    """Which call failed, without query values or headers (they may hold identifiers users did not type)."""

    method: str
    path: str

    @classmethod
    def of(cls, request: httpx.Request) -> CallInfo:
        return cls(method=request.method, path=request.url.path)


class DdmApiError(HuaweiError):
    """The service (or its gateway, or IAM) answered with an error."""

    def __init__(
        self,
        *,
        status: int,
        error_code: str,
        error_msg: str,
        request_id: str | None = None,
        call: CallInfo | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.call = call
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.error_code}: {self.error_msg} (HTTP {self.status}"
        if self.request_id:
            text += f", request id {self.request_id}"
        return text + ")"

    @property
    def is_auth_failure(self) -> bool:
        return self.status == 401 or self.error_code == "APIGW.0301"

    @property
    def is_throttled(self) -> bool:
        return self.status == 429 or self.error_code == "APIGW.0308"


class DdmUnavailable(HuaweiError):
    """The service could not be reached; nothing was executed (connection refused, DNS, connect timeout)."""

    def __init__(self, message: str, *, call: CallInfo | None = None) -> None:
        super().__init__(message)
        self.call = call


class OutcomeUnknown(HuaweiError):
    """A mutating call was sent but its answer does not say whether it ran (none came, or a 5xx).

    Never retry blindly (the restore API has no idempotency key); reconcile through the job list instead.
    `error` is the service's error answer when there was one.
    """

    def __init__(self, message: str, *, call: CallInfo | None = None, error: DdmApiError | None = None) -> None:
        super().__init__(message)
        self.call = call
        self.error = error


def request_id_of(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def error_from_response(response: httpx.Response) -> DdmApiError:
    """Turn any error answer into a DdmApiError: V3, V1/V2, IAM, gateway, non-JSON or HTML bodies."""
    status = response.status_code
    request_id = request_id_of(response)
    call = CallInfo.of(response.request) if response._request is not None else None
    code, message = _parse_error_body(response)
    if code is None:
        code = f"HTTP.{status}"
    if not message:
        message = response.reason_phrase or "no error message"
    if request_id is None and response.headers.get("content-type", "").startswith("application/json"):
        request_id = _json_request_id(response)
    return DdmApiError(status=status, error_code=code, error_msg=message, request_id=request_id, call=call)


def _parse_error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    text = response.text.strip()
    if not text:
        return None, None
    try:
        body = json.loads(text)
    except ValueError:
        return None, _summarise_non_json(text)
    if not isinstance(body, dict):
        return None, _clip(text)
    # V3 and the API gateway: {"error_code","error_msg"}
    if "error_code" in body or "error_msg" in body:
        return _str_or_none(body.get("error_code")), _str_or_none(body.get("error_msg"))
    # V1/V2: {"errCode","externalMessage"}
    if "errCode" in body or "externalMessage" in body:
        return _str_or_none(body.get("errCode")), _str_or_none(body.get("externalMessage"))
    # IAM / OpenStack style: {"error":{"code","message","title"}}
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        title = _str_or_none(error.get("title"))
        code_text = f"IAM.{code}" if isinstance(code, int) else _str_or_none(code)
        message = _str_or_none(error.get("message")) or title
        return code_text, message
    if isinstance(error, str):
        return None, error
    return None, _clip(text)


def _json_request_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        return _str_or_none(body.get("request_id"))
    return None


def _summarise_non_json(text: str) -> str:
    match = _TITLE_RE.search(text)
    if match:
        return "non-JSON answer: " + _clip(" ".join(match.group(1).split()))
    if text.lstrip().startswith("<"):
        return "non-JSON answer: " + _clip(" ".join(_TAG_RE.sub(" ", text).split()))
    return "non-JSON answer: " + _clip(" ".join(text.split()))


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    return str(value)


class BudgetError(HuaweiError):
    """The bot's own DDM call budget stopped a call before it was sent (bot.huawei.budget); nothing was sent."""


class BudgetSpent(BudgetError):
    """This minute's calls are spent and waiting for the next minute would take too long."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in
