"""Ids people read: request ids (`R-` and six Crockford base32 characters, no I, L, O, U), and DDM's long ids
shortened so that the ones shown together still differ."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REQUEST_ID_RE = re.compile(r"^R-[0-9A-HJKMNP-TV-Z]{6}$")
ELLIPSIS = "…"
SHORT_ID_MIN = 8  # characters of an id's start shown at least: fewer and unrelated ids start alike too often
SHORT_ID_TAIL = 4  # DDM's ids end in a type marker (`in09` a DDM instance, `in01` an RDS one): always shown


def new_request_id() -> str:
    return "R-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def normalise_request_id(text: str) -> str | None:
    """`r-7f3a2b` / `7F3A2B` -> `R-7F3A2B`, or None when it cannot be a request id."""
    candidate = text.strip().upper()
    if not candidate.startswith("R-"):
        candidate = "R-" + candidate
    candidate = candidate.replace("O", "0").replace("I", "1").replace("L", "1")
    return candidate if REQUEST_ID_RE.fullmatch(candidate) else None


def short_ids(ids: Iterable[str], *, minimum: int = SHORT_ID_MIN) -> dict[str, str]:
    """Each of `ids` as people see it beside the others: a start of at least `minimum` characters, `…`, and an end
    of at least four, each grown (the shorter way) until no other id has both the same start and the same end;
    the whole id when that would not be shorter.

    Beside `f4e2949e…`, `e0a1b2c3d4e54f6a8b9c0d1e2f3a4b50in01` reads `e0a1b2c3…in01`; beside `…4b51in01` too it
    reads `e0a1b2c3…0in01`. Two different ids never read the same, whatever their names.
    """
    unique = sorted(set(ids))
    backwards = {value: value[::-1] for value in unique}
    shown: dict[str, str] = {}
    for value in unique:
        others = [(_shared(value, o), _shared(backwards[value], backwards[o])) for o in unique if o != value]
        best: tuple[int, int] | None = None
        for head in sorted({minimum, *(start + 1 for start, _ in others if start >= minimum)}):
            tail = max([SHORT_ID_TAIL, *(end + 1 for start, end in others if start >= head)])
            if best is None or head + tail < sum(best):
                best = (head, tail)
        assert best is not None
        head, tail = best
        whole = head + len(ELLIPSIS) + tail >= len(value)
        shown[value] = value if whole else f"{value[:head]}{ELLIPSIS}{value[-tail:]}"
    return shown


def short_id(value: str, among: Iterable[str] = ()) -> str:
    """`value` as `short_ids` shows it beside `among`."""
    return short_ids([value, *among])[value]


def _shared(one: str, other: str) -> int:
    """How many leading characters two strings share."""
    count = 0
    for a, b in zip(one, other, strict=False):
        if a != b:
            break
        count += 1
    return count
