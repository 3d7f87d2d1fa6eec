"""The small interfaces between the layers, in domain types only: what the workflow talks through (DDM, the
people directory, the restored target, the request repository; Huawei, Slack and the store implement them), and
what it offers people (RequestDesk; the Slack listeners call it). One module per job; import them from here."""

from bot.ports.audit import AuditEntry
from bot.ports.ddm import DdmGateway, DdmUnreachable
from bot.ports.desk import RequestDesk
from bot.ports.people import UserDirectory
from bot.ports.shared_work import (
    DrillSlots,
    HomeTabs,
    NamedLeases,
    OutboxRow,
    RequestOutbox,
    SlotTaken,
    StageReminders,
    StaleHome,
    UrgentReviews,
)
from bot.ports.store import ApprovalOutcome, ChangeObserver, RequestPage, RequestRepository, TargetBusy
from bot.ports.targets import TargetProbe, TargetUnreachable

__all__ = [
    "ApprovalOutcome",
    "AuditEntry",
    "ChangeObserver",
    "DdmGateway",
    "DdmUnreachable",
    "DrillSlots",
    "HomeTabs",
    "NamedLeases",
    "OutboxRow",
    "RequestDesk",
    "RequestOutbox",
    "RequestPage",
    "RequestRepository",
    "SlotTaken",
    "StageReminders",
    "StaleHome",
    "TargetBusy",
    "TargetProbe",
    "TargetUnreachable",
    "UrgentReviews",
    "UserDirectory",
]
