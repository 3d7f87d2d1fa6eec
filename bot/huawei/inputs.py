"""What the DDM client refuses before sending anything: ids that are not Huawei Cloud ids, a target that is the
source, a restore point without a time zone, not positive or in the future."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.huawei.errors import InvalidInput
from bot.huawei.models import RecoveryRequest, to_epoch_ms

RestorePoint = datetime | int  # an aware datetime, or epoch milliseconds
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
# Restore points up to this far ahead of our clock are allowed, so a slightly fast clock is not an error.
FUTURE_SKEW = timedelta(seconds=5)


def check_id(field: str, value: str) -> None:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise InvalidInput(field, f"{value!r} is not a valid Huawei Cloud id (letters, digits, '-' or '_')")


def restore_ms(restore_time: RestorePoint, *, now: datetime) -> int:
    """The restore point in epoch milliseconds, checked against `now`."""
    if isinstance(restore_time, datetime):
        if restore_time.tzinfo is None:
            raise InvalidInput("restore_time", "needs a time zone (a time without one is ambiguous)")
        ms = to_epoch_ms(restore_time)
    else:
        ms = restore_time
    if ms <= 0:
        raise InvalidInput("restore_time", "must be a positive epoch-milliseconds value")
    if ms > to_epoch_ms(now + FUTURE_SKEW):
        raise InvalidInput("restore_time", "is in the future; a restore point must be in the past")
    return ms


def check_restore(instance_id: str, body: RecoveryRequest, *, now: datetime) -> None:
    """The restore POST's ids and restore point, field by field."""
    check_id("instance_id", instance_id)
    check_id("target.instance_id", body.target.instance_id)
    if body.target.instance_id == instance_id:
        raise InvalidInput("target.instance_id", "the target DDM instance is the source itself")
    for index, relation in enumerate(body.data_node_relations):
        check_id(f"data_node_relations[{index}].source_instance_id", relation.source_instance_id)
        check_id(f"data_node_relations[{index}].target_instance_id", relation.target_instance_id)
    restore_ms(body.source.restore_time, now=now)
