"""Request ids people can read aloud: `R-` and six Crockford base32 characters (no I, L, O, U)."""

from __future__ import annotations

import re
import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REQUEST_ID_RE = re.compile(r"^R-[0-9A-HJKMNP-TV-Z]{6}$")


def new_request_id() -> str:
    return "R-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def normalise_request_id(text: str) -> str | None:
    """`r-7f3a2b` / `7F3A2B` -> `R-7F3A2B`, or None when it cannot be a request id."""
    candidate = text.strip().upper()
    if not candidate.startswith("R-"):
        candidate = "R-" + candidate
    candidate = candidate.replace("O", "0").replace("I", "1").replace("L", "1")
    return candidate if REQUEST_ID_RE.fullmatch(candidate) else None
