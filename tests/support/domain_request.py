"""A small plan and a request of it, for the domain's rules (plans, lifecycle, policies, stages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState, RestoreRequest

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def plan(**changes: object) -> RestorePlan:
    base = RestorePlan(
        project_id="p",
        source=NamedRef(id="srcin09", name="orders-prod"),
        target=NamedRef(id="tgtin09", name="orders-restore-1"),
        restore_time_ms=1_747_732_352_076,
        mappings=(
            DataNodeMapping(source=NamedRef(id="s0in01", name="rds-0"), target=NamedRef(id="t0in01", name="r-0")),
            DataNodeMapping(source=NamedRef(id="s1in01", name="rds-1"), target=NamedRef(id="t1in01", name="r-1")),
        ),
    )
    return base.model_copy(update=changes)


def request(state: RequestState = RequestState.PENDING, **changes: object) -> RestoreRequest:
    p = plan()
    values: dict[str, object] = dict(
        id="R-7F3A2B",
        plan=p,
        fingerprint=p.fingerprint(),
        requester_id="UALICE",
        channel_id="C1",
        state=state,
        required_approvals=1,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        updated_at=NOW,
    )
    values.update(changes)
    return RestoreRequest(**values)  # type: ignore[arg-type]
