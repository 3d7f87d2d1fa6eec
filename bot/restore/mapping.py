"""Source→target data-node mapping: a sensible suggestion, and the checks of a chosen mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.restore.wording import clause

_SUFFIX_RE = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    available: bool
    reason: str | None = None


def suggest_mapping(
    source_ids: Sequence[str],
    source_names: Mapping[str, str],
    candidates: Mapping[str, Sequence[Candidate]],
    preferred: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """Pick one available target per source, each used once.

    Preference order: what the user asked for (`preferred`), then a target whose name ends in the same number
    as the source's (`orders-rds-1` → `restore-rds-1`), then the first available one.
    """
    chosen: dict[str, str | None] = {}
    used: set[str] = set()
    preferred = preferred or {}
    for source_id in source_ids:
        options = [c for c in candidates.get(source_id, ()) if c.available and c.id not in used]
        pick = next((c for c in options if c.id == preferred.get(source_id)), None)
        if pick is None:
            suffix = _suffix(source_names.get(source_id, ""))
            pick = next((c for c in options if suffix is not None and _suffix(c.name) == suffix), None)
        if pick is None and options:
            pick = options[0]
        chosen[source_id] = pick.id if pick else None
        if pick:
            used.add(pick.id)
    return chosen


def mapping_problems(
    source_ids: Sequence[str],
    chosen: Mapping[str, str | None],
    candidates: Mapping[str, Sequence[Candidate]],
    names: Mapping[str, str],
) -> dict[str, str]:
    """Problems keyed by source data-node id: unmapped, unavailable, or a target used twice."""
    problems: dict[str, str] = {}
    first_user: dict[str, str] = {}
    for source_id in source_ids:
        target_id = chosen.get(source_id)
        label = names.get(source_id, source_id)
        if not target_id:
            problems[source_id] = f"Choose a target data node for {label}."
            continue
        options = {c.id: c for c in candidates.get(source_id, ())}
        candidate = options.get(target_id)
        if candidate is None:
            problems[source_id] = f"{names.get(target_id, target_id)} is not a restore candidate for {label}."
        elif not candidate.available:
            problems[source_id] = f"{candidate.name} can't be used: {clause(candidate.reason, 'unavailable')}."
        elif target_id in first_user:
            problems[source_id] = (
                f"{candidate.name} is already the target of {names.get(first_user[target_id], first_user[target_id])};"
                " use each target data node once."
            )
        else:
            first_user[target_id] = source_id
    return problems


def _suffix(name: str) -> str | None:
    match = _SUFFIX_RE.search(name)
    return match.group(1) if match else None
