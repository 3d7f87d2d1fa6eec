"""The SDK-HMAC-SHA256 signer against vectors produced by Huawei's official signer, and the server-side check.

The vectors are the project's own copy, `tests/data/huaweicloud-signer-vectors.json` (or wherever
DDM_SIGNER_VECTORS points). A missing file fails these tests: the signer must never go untested against them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.huawei import signer

VECTORS_ENV = "DDM_SIGNER_VECTORS"
DEFAULT_VECTORS_PATH = Path(__file__).resolve().parents[1] / "data" / "huaweicloud-signer-vectors.json"

# The fake credentials the vectors were generated with. The file itself does not carry the secret key; a vector
# may name its own with "ak"/"sk" fields.
TEST_AK = "TESTAKEXAMPLE0000000"
TEST_SK = "testskexample" + "0" * 28

Vector = dict[str, Any]


def _vectors_path() -> Path:
    override = os.environ.get(VECTORS_ENV)
    return Path(override) if override else DEFAULT_VECTORS_PATH


def _load_vectors() -> tuple[list[Vector], str | None]:
    path = _vectors_path()
    source = f"{VECTORS_ENV}={path}" if os.environ.get(VECTORS_ENV) else str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], f"signer vectors not readable at {source}: {exc.strerror or exc} (set {VECTORS_ENV} to the file)"
    except json.JSONDecodeError as exc:
        return [], f"signer vectors at {source} are not valid JSON: {exc}"
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        return [], f"signer vectors at {source} must be a non-empty JSON list of objects"
    return data, None


VECTORS, VECTORS_ERROR = _load_vectors()


def _params(names: set[str] | None = None) -> list[Any]:
    if VECTORS_ERROR is not None:
        # One failing case instead of an empty (skipped) parametrization.
        return [pytest.param(None, id="vectors-file-missing")]
    return [pytest.param(v, id=v["name"]) for v in VECTORS if names is None or v["name"] in names]


def _require(vector: Vector | None) -> Vector:
    if vector is None:
        pytest.fail(VECTORS_ERROR or "no signer vectors")
    return vector


def _credentials(vector: Vector) -> tuple[str, str]:
    return vector.get("ak", TEST_AK), vector.get("sk", TEST_SK)


def _sign(vector: Vector, headers: dict[str, str] | None = None) -> signer.Signature:
    ak, sk = _credentials(vector)
    return signer.sign(
        method=vector["method"],
        path=vector["resource_path"],
        query=[(key, value) for key, value in vector["query_params"]],
        headers=vector["headers_at_signing"] if headers is None else headers,
        body=vector["body"].encode("utf-8"),
        ak=ak,
        sk=sk,
    )


def _signed_request(vector: Vector) -> dict[str, Any]:
    """The request as it reaches the server: the vector's URL, its headers at signing plus Authorization."""
    url = urlsplit(vector["url"])
    ak, sk = _credentials(vector)
    return {
        "method": vector["method"],
        "path": url.path,
        "raw_query": url.query,
        "headers": {**vector["headers_at_signing"], "Authorization": vector["expected_authorization"]},
        "body": vector["body"].encode("utf-8"),
        "ak": ak,
        "sk": sk,
    }


def test_vectors_file_is_present_and_names_are_unique() -> None:
    if VECTORS_ERROR is not None:
        pytest.fail(VECTORS_ERROR)
    names = [v["name"] for v in VECTORS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("vector", _params())
def test_sign_reproduces_official_vector(vector: Vector | None) -> None:
    vector = _require(vector)
    result = _sign(vector)
    assert result.canonical_request == vector["expected_canonical_request"]
    assert result.string_to_sign == vector["expected_string_to_sign"]
    assert result.signed_headers == vector["expected_signed_headers"]
    assert result.signature == vector["expected_signature"]
    assert result.authorization == vector["expected_authorization"]
    # The query sent must be the very string that was signed.
    assert signer.canonical_query_string(vector["query_params"]) == urlsplit(vector["url"]).query
    # The path sent is the caller's own; only the signed form gets the trailing "/".
    assert urlsplit(vector["url"]).path == vector["resource_path"]


@pytest.mark.parametrize("vector", _params())
def test_verify_accepts_vector_and_rejects_tampering(vector: Vector | None) -> None:
    vector = _require(vector)
    request = _signed_request(vector)
    assert signer.verify(**request)

    # Header names are matched case-insensitively on the server side.
    lowered = {name.lower(): value for name, value in request["headers"].items()}
    assert signer.verify(**{**request, "headers": lowered})

    assert not signer.verify(**{**request, "body": request["body"] + b" "})
    assert not signer.verify(**{**request, "raw_query": request["raw_query"] + "&extra=1"})
    assert not signer.verify(**{**request, "method": "DELETE"})
    assert not signer.verify(**{**request, "ak": "OTHERAKEXAMPLE000000"})
    assert not signer.verify(**{**request, "sk": request["sk"] + "x"})

    for name in vector["expected_signed_headers"].split(";"):
        headers = {key: (value + "x" if key.lower() == name else value) for key, value in request["headers"].items()}
        assert not signer.verify(**{**request, "headers": headers}), f"tampered {name} still verified"

    malformed = {**request["headers"], "Authorization": vector["expected_authorization"].replace(", ", " ")}
    assert not signer.verify(**{**request, "headers": malformed})
    missing = {key: value for key, value in request["headers"].items() if key != "Authorization"}
    assert not signer.verify(**{**request, "headers": missing})


@pytest.mark.parametrize("vector", _params({"header_edge_cases"}))
def test_unsigned_header_and_untrimmed_values(vector: Vector | None) -> None:
    vector = _require(vector)
    # The headers as the caller gave them (value still padded) sign the same as the trimmed ones.
    injected = {name: vector["headers_at_signing"][name] for name in vector["injected_headers"]}
    assert _sign(vector, {**vector["headers"], **injected}).signature == vector["expected_signature"]

    # A header whose name has "_" is not signed, so changing it does not break the signature.
    request = _signed_request(vector)
    headers = {**request["headers"], "X_Unsigned_Header": "changed"}
    assert signer.verify(**{**request, "headers": headers})


@pytest.mark.parametrize("vector", _params({"get_query_escaping_repeated_keys"}))
def test_parse_query_string_round_trips_escaping_vector(vector: Vector | None) -> None:
    vector = _require(vector)
    sent = urlsplit(vector["url"]).query
    pairs = signer.parse_query_string(sent)
    assert pairs == sorted((key, value) for key, value in vector["query_params"])
    assert signer.canonical_query_string(pairs) == sent


def test_trailing_slash_vectors_sign_identically() -> None:
    by_name = {v["name"]: v for v in VECTORS}
    if VECTORS_ERROR is not None:
        pytest.fail(VECTORS_ERROR)
    with_slash = _sign(by_name["get_instances_trailing_slash"])
    without = _sign(by_name["get_instances_no_trailing_slash"])
    assert with_slash == without


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/v3/p/jobs", "/v3/p/jobs/"),
        ("/v3/p/jobs/", "/v3/p/jobs/"),
        ("/a b/c~d/é", "/a%20b/c~d/%C3%A9/"),
        ("/a%20b/c%7Ed", "/a%20b/c~d/"),  # decoded first, then re-encoded
    ],
)
def test_canonical_uri(path: str, expected: str) -> None:
    assert signer.canonical_uri(path) == expected


def test_canonical_query_string_encodes_rfc3986_and_sorts_raw() -> None:
    pairs = [("b", "x y"), ("a", "2"), ("a", "10"), ("c", "+/*~")]
    assert signer.canonical_query_string(pairs) == "a=10&a=2&b=x%20y&c=%2B%2F%2A~"
    assert signer.canonical_query_string([]) == ""


def test_parse_query_string_keeps_blanks_and_decodes_plus() -> None:
    assert signer.parse_query_string("") == []
    assert signer.parse_query_string("a=&b&c=1&&d=x+y%2Bz") == [("a", ""), ("b", ""), ("c", "1"), ("d", "x y+z")]
    with pytest.raises(ValueError):
        signer.parse_query_string("a=%FF")


def test_format_sdk_date() -> None:
    assert signer.format_sdk_date(datetime(2025, 1, 15, 8, 30, tzinfo=UTC)) == "20250115T083000Z"
    eight_east = timezone(timedelta(hours=8))
    assert signer.format_sdk_date(datetime(2025, 1, 15, 16, 30, tzinfo=eight_east)) == "20250115T083000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.format_sdk_date(datetime(2025, 1, 15, 8, 30))


def test_sign_requires_host_and_date() -> None:
    common: dict[str, Any] = {"method": "GET", "path": "/", "query": [], "body": b"", "ak": "ak", "sk": "sk"}
    with pytest.raises(ValueError, match="X-Sdk-Date"):
        signer.sign(headers={"Host": "h"}, **common)
    with pytest.raises(ValueError, match="Host"):
        signer.sign(headers={"X-Sdk-Date": "20250115T083000Z"}, **common)
    with pytest.raises(ValueError, match="more than once"):
        signer.sign(headers={"Host": "a", "host": "b", "X-Sdk-Date": "20250115T083000Z"}, **common)


def test_parse_authorization() -> None:
    signature = "ab" * 32
    parsed = signer.parse_authorization(
        f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;X-Sdk-Date, Signature={signature.upper()}"
    )
    assert parsed == signer.ParsedAuthorization(
        access_key="AK1", signed_headers=("host", "x-sdk-date"), signature=signature
    )
    assert "AK1" not in repr(parsed)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer abc",
        "SDK-HMAC-SHA1 Access=a, SignedHeaders=host, Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=a SignedHeaders=host Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host;;x-sdk-date, Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host;host, Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=xyz",
        "SDK-HMAC-SHA256 Access=a, Access=b, SignedHeaders=host, Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=" + "0" * 64 + ", Extra=1",
    ],
)
def test_parse_authorization_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError, match="Authorization"):
        signer.parse_authorization(value)
    headers = {"Host": "h", "X-Sdk-Date": "20250115T083000Z", "Authorization": value}
    assert not signer.verify(method="GET", path="/", raw_query="", headers=headers, body=b"", ak="a", sk="s")


def test_verify_requires_date_to_be_signed() -> None:
    # A signature that is correct over Host alone (the date only in the string to sign) is still refused.
    date = "20250115T083000Z"
    canonical = "\n".join(("GET", "/", "", "host:h\n", "host", hashlib.sha256(b"").hexdigest()))
    string_to_sign = "\n".join((signer.SIGNING_ALGORITHM, date, hashlib.sha256(canonical.encode()).hexdigest()))
    signature = hmac.new(b"s", string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = f"SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature={signature}"
    headers = {"Host": "h", "X-Sdk-Date": date, "Authorization": authorization}
    assert not signer.verify(method="GET", path="/", raw_query="", headers=headers, body=b"", ak="a", sk="s")


def test_signature_repr_hides_secrets() -> None:
    result = signer.sign(
        method="GET",
        path="/",
        query=[],
        headers={"Host": "h", "X-Sdk-Date": "20250115T083000Z", "X-Security-Token": "TOKEN-VALUE"},
        body=b"",
        ak="SECRET-AK",
        sk="SECRET-SK",
    )
    assert "TOKEN-VALUE" not in repr(result)
    assert "SECRET-AK" not in repr(result)
    assert "SECRET-SK" not in repr(result)
