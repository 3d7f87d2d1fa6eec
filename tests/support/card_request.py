"""A request as the card and the thread messages draw it: named source, target and two data nodes, a reason,
two approvals required (golden files of tests/golden are drawn from it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.request import RequestState, RestoreRequest

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
PLAN = RestorePlan(
    project_id="0123456789abcdef0123456789abcdef",
    region="cn-north-4",
    source=NamedRef(id="aaaa1111bbbb2222cccc3333dddd4444in09", name="orders-prod"),
    target=NamedRef(id="bbbb1111cccc2222dddd3333eeee4444in09", name="orders-restore-1"),
    restore_time_ms=1_795_752_352_500,
    mappings=(
        DataNodeMapping(
            source=NamedRef(id="11111111111111111111111111111111in01", name="orders-rds-0"),
            target=NamedRef(id="33333333333333333333333333333333in01", name="restore1-rds-0"),
        ),
        DataNodeMapping(
            source=NamedRef(id="22222222222222222222222222222222in01", name="orders-rds-1"),
            target=NamedRef(id="44444444444444444444444444444444in01", name="restore1-rds-1"),
        ),
    ),
    reason="INC-4521 bad DELETE on orders",
)


def make_request(state: RequestState, **changes: Any) -> RestoreRequest:
    values: dict[str, Any] = dict(
        id="R-7F3A2B",
        plan=PLAN,
        fingerprint=PLAN.fingerprint(),
        requester_id="UALICE",
        channel_id="COPS",
        state=state,
        required_approvals=2,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        updated_at=NOW,
        message_ts="1700000000.000100",
    )
    values.update(changes)
    return RestoreRequest(**values)
