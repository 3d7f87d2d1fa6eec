"""The small interfaces the workflow talks through. Slack and Huawei implement them; tests can too."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.huawei.models import (
    DdmInstance,
    Job,
    RecoveryRequest,
    RelatedDataNodes,
    RestorableInstance,
    TargetDataNode,
    TimeWindow,
)
from bot.restore.policy import Actor
from bot.restore.request import RestoreRequest


class DdmGateway(Protocol):
    """What the bot needs of DDM (`bot.huawei.ddm.DdmClient` is the real one)."""

    region: str | None
    project_id: str

    async def prepare(self) -> None: ...
    async def list_instances(self) -> list[DdmInstance]: ...
    async def restorable_windows(self, instance_id: str) -> list[TimeWindow]: ...
    async def restorable_instances(self, instance_id: str) -> list[RestorableInstance]: ...
    async def related_data_nodes(self, instance_id: str, restore_time: datetime | int) -> RelatedDataNodes: ...
    async def restorable_data_nodes(
        self, instance_id: str, *, target_instance_id: str, source_dn_instance_id: str, restore_time: datetime | int
    ) -> list[TargetDataNode]: ...
    async def restore(self, instance_id: str, body: RecoveryRequest) -> str: ...
    async def job(self, job_id: str) -> Job: ...
    async def jobs(self, start: datetime, end: datetime | None = None) -> list[Job]: ...


class CardNotPosted(Exception):
    """The request card could not be posted (e.g. the bot is not in the channel)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Notifier(Protocol):
    """Where people see requests: the card in the channel and its thread."""

    async def post_card(self, request: RestoreRequest) -> str:
        """Post the card; return its message ts. Raises CardNotPosted."""
        ...

    async def permalink(self, channel_id: str, message_ts: str) -> str | None:
        """A link to the card, for the audit trail (None when it can't be had)."""
        ...

    async def update_card(self, request: RestoreRequest) -> None: ...
    async def post_in_thread(self, request: RestoreRequest, text: str) -> None: ...
    async def tell(self, user_id: str, channel_id: str, text: str) -> None:
        """A message only `user_id` sees."""
        ...


class UserDirectory(Protocol):
    async def actor(self, user_id: str) -> Actor:
        """Who this person is for the policy: guest or not, and which configured groups they are in."""
        ...
