"""A request's approval flow: its stages in order, each with its approvers and how many must approve, and the
routing rule that chose them (bot.restore.rules). Data only, no I/O.

The flow is frozen into the request when it is made (stored with it, in its fingerprint and in the audit): what
decides a pending request is its own flow, never the configuration as it is when a click arrives. Requests made
before flows were frozen get their environment's stages when the bot first starts with them (`backfilled`: not in
their fingerprint, which was taken before).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.restore.stages import StageRule


@dataclass(frozen=True)
class Stage:
    """One approval stage: its approvers and how many of them must approve. Stages run in order."""

    name: str
    approver_user_ids: frozenset[str] = frozenset()
    approver_group_ids: frozenset[str] = frozenset()
    required: int = 1

    def brief(self) -> str:
        """ "1 of <!subteam^S1>", "<@UOWNER>" (one person, one approval): who is asked, for step 2's line."""
        people = [f"<@{u}>" for u in sorted(self.approver_user_ids)]
        people += [f"<!subteam^{g}>" for g in sorted(self.approver_group_ids)]
        if not people:
            return "nobody"
        if len(people) == 1 and not self.approver_group_ids and self.required == 1:
            return people[0]
        return f"{self.required} of {', '.join(people)}"


@dataclass(frozen=True)
class Flow:
    stages: tuple[Stage, ...]
    rule: str = ""  # the routing rule that chose the stages; "" for the environment's own stages
    backfilled: bool = False  # frozen after the request was made: not part of its fingerprint

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a flow has at least one stage")

    @property
    def named(self) -> bool:
        """Named stages (an environments file's); else one stage of approvers (the settings', or urgent)."""
        return any(stage.name for stage in self.stages)

    @property
    def total_required(self) -> int:
        return sum(stage.required for stage in self.stages)

    @property
    def stage_rule(self) -> StageRule:
        return StageRule(tuple(stage.required for stage in self.stages))

    def describe(self, name: Callable[[str], str] = str) -> str:
        """ "DBA lead (1 of <!subteam^S1>), then Service owner (<@UOWNER>) — rule *old restore point*" (mrkdwn).
        The names come from the configuration file: `name` escapes them where they meet Slack."""
        if self.named:
            parts = [f"{name(stage.name)} ({stage.brief()})" for stage in self.stages]
        else:
            parts = [stage.brief() for stage in self.stages]
        said = ", then ".join(parts)
        return f"{said} — rule *{name(self.rule)}*" if self.rule else said

    # ---- stored with the request -------------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """What the request's fingerprint covers of its flow (and what its audit record says)."""
        return {
            "rule": self.rule,
            "stages": [
                {
                    "name": s.name,
                    "users": sorted(s.approver_user_ids),
                    "groups": sorted(s.approver_group_ids),
                    "required": s.required,
                }
                for s in self.stages
            ],
        }

    def to_json(self) -> str:
        data = self.identity()
        if self.backfilled:
            data["backfilled"] = True
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Flow:
        data = json.loads(raw)
        return cls(
            stages=tuple(
                Stage(
                    str(s.get("name") or ""),
                    frozenset(s.get("users") or ()),
                    frozenset(s.get("groups") or ()),
                    int(s.get("required") or 1),
                )
                for s in data["stages"]
            ),
            rule=str(data.get("rule") or ""),
            backfilled=bool(data.get("backfilled")),
        )


def describe_who(user_ids: frozenset[str], group_ids: frozenset[str]) -> str:
    parts = [f"<@{uid}>" for uid in sorted(user_ids)]
    parts += [f"members of <!subteam^{gid}>" for gid in sorted(group_ids)]
    if not parts:
        return "nobody (no approvers are configured)"
    return join_or(parts)


def join_or(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]
