"""Joining a reason from DDM (or a person) into a sentence of ours: the reason's own closing punctuation goes,
so "too small (100 GB)." followed by our ", " or "." never reads "(100 GB).," or "(100 GB)..".
"""

from __future__ import annotations

# Sentence ends and separators, ASCII and full-width (DDM answers in Chinese too).
_CLOSERS = ".,;:!?。，；：！？ \t\r\n"


def clause(reason: str | None, default: str = "") -> str:
    """`reason` without surrounding blanks or its trailing punctuation; `default` when nothing is left. An ellipsis
    stays: it says the text was cut."""
    text = (reason or "").strip()
    if text.endswith(("...", "…")):
        return text
    return text.rstrip(_CLOSERS) or default
