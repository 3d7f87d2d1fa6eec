"""Huawei Cloud `SDK-HMAC-SHA256` request signing (AK/SK), as the official SDKs and the API gateway do it.

Pure functions over plain values, standard library only: `bot.huawei.auth` signs outgoing requests with `sign`,
the simulator checks incoming ones with `verify`. Byte-for-byte compatibility with Huawei's own signer is pinned
by `tests/data/huaweicloud-signer-vectors.json` (see tests/unit/test_signer.py).

The canonical request is::

    METHOD \\n CANONICAL_URI \\n CANONICAL_QUERY \\n CANONICAL_HEADERS \\n SIGNED_HEADERS \\n hex(sha256(body))

where CANONICAL_HEADERS is one `name:value\\n` line per signed header (so that block ends in a newline of its own
before the separator), and the string to sign is `SDK-HMAC-SHA256\\n{X-Sdk-Date}\\nhex(sha256(canonical))`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote, unquote_plus

SIGNING_ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_DATE_HEADER = "x-sdk-date"
_HOST_HEADER = "host"
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Signature:
    """Every intermediate of one signing, so a mismatch with the server can be diagnosed step by step."""

    # Not in repr: the canonical request holds header values such as X-Security-Token, and the Authorization
    # value holds the access key; neither belongs in logs or tracebacks.
    canonical_request: str = field(repr=False)
    string_to_sign: str
    signed_headers: str  # "content-type;host;x-sdk-date"
    signature: str  # lowercase hex
    authorization: str = field(repr=False)  # the full Authorization header value


@dataclass(frozen=True)
class ParsedAuthorization:
    """The three parts of an `SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` header."""

    access_key: str = field(repr=False)
    signed_headers: tuple[str, ...]  # lowercased, in the order given
    signature: str  # lowercase hex


def _encode(value: str) -> str:
    # RFC 3986: only unreserved characters stay literal. `quote` already keeps ALPHA / DIGIT / "-._"; "~" must be
    # added explicitly, and "/" must NOT be safe (its default), or a slash inside a segment or value would survive.
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """The path as signed: decoded, each segment re-encoded, always ending in "/" (the URL sent is unchanged)."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    # The official signer appends "/" unconditionally, so ".../instances" and ".../instances/" sign the same.
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query_string(pairs: Iterable[tuple[str, str]]) -> str:
    """Raw (decoded) pairs in; the sorted, encoded `k=v&...` string out — exactly what must be sent on the wire."""
    # Sorting happens on the raw values, before encoding, as in the official signer; repeated keys are kept and
    # ordered by value.
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def parse_query_string(raw: str) -> list[tuple[str, str]]:
    """Decode a query as sent ("a=b&c=%20") into raw pairs, in order, keeping blank values ("a" → ("a", "")).

    "+" decodes to a space, as in form encoding and in the gateway's own parsing; `canonical_query_string` never
    emits "+" (it sends "%2B" and "%20"), so the round trip is exact. Percent-escapes that are not UTF-8 raise
    ValueError rather than being replaced, because a silently altered value would then be signed and sent.
    """
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key, errors="strict"), unquote_plus(value, errors="strict")))
    return pairs


def format_sdk_date(moment: datetime) -> str:
    """An aware datetime as the `X-Sdk-Date` value, in UTC: "20250115T083000Z"."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive datetime would be taken as local time and silently shift the date by the machine's offset.
        raise ValueError("format_sdk_date needs a timezone-aware datetime (got a naive one)")
    return moment.astimezone(UTC).strftime(SDK_DATE_FORMAT)


def _fold_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lowercase names → values; two spellings of one name with different values are ambiguous, so refused."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    folded: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in folded and folded[key] != value:
            raise ValueError(f"header {name!r} is given more than once with different values")
        folded[key] = value
    return folded


def sign(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    ak: str,
    sk: str,
) -> Signature:
    """Sign one request. `headers` are those present at signing, and must include Host and X-Sdk-Date.

    Every header whose name has no "_" is signed (that is the official rule: such names may be dropped or
    rewritten by proxies). `query` holds the raw pairs; send `canonical_query_string(query)` as the URL's query.
    """
    folded = _fold_headers(headers)
    if _DATE_HEADER not in folded:
        raise ValueError("the X-Sdk-Date header is required for signing")
    if _HOST_HEADER not in folded:
        raise ValueError("the Host header is required for signing")
    signed_names = sorted(name for name in folded if "_" not in name)
    signed_headers = ";".join(signed_names)
    canonical_headers = "".join(f"{name}:{folded[name].strip()}\n" for name in signed_names)
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query_string(query),
            canonical_headers,
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        )
    )
    string_to_sign = "\n".join(
        (
            SIGNING_ALGORITHM,
            folded[_DATE_HEADER].strip(),
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        )
    )
    signature = hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return Signature(
        canonical_request=canonical_request,
        string_to_sign=string_to_sign,
        signed_headers=signed_headers,
        signature=signature,
        authorization=f"{SIGNING_ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}",
    )


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse an `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex` value; ValueError if malformed.

    Error messages never quote the access key or the signature.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme != SIGNING_ALGORITHM:
        raise ValueError(f"Authorization must start with {SIGNING_ALGORITHM!r} followed by a space")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, part = item.strip().partition("=")
        if not sep:
            raise ValueError("Authorization parts must be name=value, separated by commas")
        if name not in ("Access", "SignedHeaders", "Signature"):
            raise ValueError(f"Authorization has an unknown part {name[:32]!r}")
        if name in parts:
            raise ValueError(f"Authorization has {name} more than once")
        if not part:
            raise ValueError(f"Authorization has an empty {name}")
        parts[name] = part
    missing = [name for name in ("Access", "SignedHeaders", "Signature") if name not in parts]
    if missing:
        raise ValueError(f"Authorization is missing {', '.join(missing)}")
    signed_headers = tuple(name.lower() for name in parts["SignedHeaders"].split(";"))
    if any(not name or name != name.strip() for name in signed_headers):
        raise ValueError("Authorization SignedHeaders has an empty or padded header name")
    if len(set(signed_headers)) != len(signed_headers):
        raise ValueError("Authorization SignedHeaders lists a header more than once")
    if not _HEX_SHA256.fullmatch(parts["Signature"]):
        raise ValueError("Authorization Signature must be 64 hex digits")
    return ParsedAuthorization(
        access_key=parts["Access"],
        signed_headers=signed_headers,
        signature=parts["Signature"].lower(),
    )


def verify(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    ak: str,
    sk: str,
) -> bool:
    """Server side: does the request's Authorization header carry a valid signature by `ak`/`sk`?

    Recomputes the signature over exactly the headers listed in SignedHeaders (looked up case-insensitively).
    Host and X-Sdk-Date must be among them. Never raises on bad input: anything malformed is simply False.
    """
    try:
        present = list(headers.items())
        authorization = [value for name, value in present if name.lower() == "authorization"]
        if len(authorization) != 1:
            return False
        parsed = parse_authorization(authorization[0])
        if not hmac.compare_digest(parsed.access_key.encode("utf-8"), ak.encode("utf-8")):
            return False
        if any("_" in name for name in parsed.signed_headers):
            # `sign` would leave such a header out, so the recomputation would not cover what the client claims.
            return False
        wanted = set(parsed.signed_headers)
        signed = _fold_headers((name, value) for name, value in present if name.lower() in wanted)
        if set(signed) != wanted:
            return False  # a header listed as signed is absent
        expected = sign(
            method=method,
            path=path,
            query=parse_query_string(raw_query),
            headers=signed,
            body=body,
            ak=ak,
            sk=sk,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected.signature.encode("ascii"), parsed.signature.encode("ascii"))
