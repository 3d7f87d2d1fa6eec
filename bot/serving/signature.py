"""Slack's request signature (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body}`, timestamps within 5 minutes.

Checked on the raw bytes before anything reads the body. slack_sdk's SignatureVerifier decodes the body as UTF-8
and the timestamp as an integer, and raises on either: a 500 with a traceback for a request anybody can send.
Here every request that is not Slack's gets a reason instead.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MAX_AGE_SECONDS = 300  # Slack's own window against replays
_MAX_TIMESTAMP_DIGITS = 12  # far beyond any real epoch second; a longer "number" is not worth converting


def refusal(secret: bytes, raw: bytes, headers: Mapping[str, str], now: float) -> str | None:
    """Why this request is not one Slack signed with `secret` (None when it is). `headers` keys are lower-case."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp:
        return "no X-Slack-Request-Timestamp"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return "X-Slack-Request-Timestamp is not a number of seconds"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "X-Slack-Request-Timestamp is more than 5 minutes off"
    if not signature:
        return "no X-Slack-Signature"
    basestring = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = b"v0=" + hmac.new(secret, basestring, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        return "the signature does not match"
    return None
