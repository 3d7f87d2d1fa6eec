"""Environments: which channels restore in which project and region, under which approval rules. No I/O.

Without a configuration file there is one environment, named "", for every channel: the settings' project,
region and policy (today's behaviour). With one, each channel belongs to at most one environment, and a channel
in none is not set up for restores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import Refusal
from bot.restore.drills import Drill
from bot.restore.flow import Stage, describe_who
from bot.restore.policy import Actor, ApprovalPolicy
from bot.restore.reminders import ReminderRule
from bot.restore.verification import VerifyRule


@dataclass(frozen=True)
class Environment:
    name: str  # "" for the one environment the settings define
    region: str
    project_id: str
    policy: ApprovalPolicy
    channel_ids: frozenset[str] = frozenset()  # empty: every channel (only the settings' environment)
    verify: VerifyRule = field(
        default_factory=VerifyRule
    )  # how a completed restore is proven (DDM level only by default)
    drills: tuple[Drill, ...] = ()

    @property
    def label(self) -> str:
        """How the card names it: "prod (cn-north-4)"; the region alone for the settings' environment."""
        return f"{self.name} ({self.region})" if self.name else self.region

    def serves(self, channel_id: str) -> bool:
        return not self.channel_ids or channel_id in self.channel_ids

    def rules_text(self) -> str:
        """The environment and its rules, for `/ddm-restore policy` (Slack mrkdwn mentions)."""
        p = self.policy
        title = f"*Environment {self.name}*" if self.name else "*Restores here*"
        lines = [f"{title}: project `{self.project_id}` in {self.region}"]
        if self.channel_ids:
            lines.append("Channels: " + ", ".join(f"<#{c}>" for c in sorted(self.channel_ids)))
        who = [f"<@{u}>" for u in sorted(p.requester_user_ids)]
        who += [f"members of <!subteam^{g}>" for g in sorted(p.requester_group_ids)]
        lines.append(f"Who may request: {', '.join(who) if who else 'anyone but guests'}")
        stages = p.stages or (Stage("Approval", p.approver_user_ids, p.approver_group_ids, p.required_approvals),)
        for number, stage in enumerate(stages, start=1):
            prefix = f"Stage {number} ({stage.name})" if p.stages else "Approval"
            lines.append(
                f"{prefix}: {stage.required} of {describe_who(stage.approver_user_ids, stage.approver_group_ids)}"
            )
        self_rule = "may" if p.allow_self_approval else "never"
        lines.append(f"The requester {self_rule} counts as an approver; guests, bots and deactivated users never do.")
        lines.append(f"A request expires {_minutes(p.ttl.total_seconds() / 60)} after it is made.")
        if p.reminders is not None:
            lines.append(_reminders_line(p.reminders))
        if p.urgent is not None:
            u = p.urgent
            hours = u.review_within.total_seconds() / 3600
            lines.append(
                f"Urgent (break-glass): {u.required} of {describe_who(u.approver_user_ids, u.approver_group_ids)}; "
                f"reviewed within {hours:g} h by {describe_who(u.reviewer_user_ids, u.reviewer_group_ids)}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Standing:
    """What one person may do in one channel (`/ddm-restore whoami`), as the policy decides it."""

    actor: Actor
    environment: Environment | None  # None: the channel is in no environment
    refusal: Refusal | None  # why they may not request here, in the policy's words; None: they may
    stages: tuple[Stage, ...] = ()  # the environment's stages they may approve in
    urgent: bool = False  # they may approve on the urgent (break-glass) path


@dataclass(frozen=True)
class Environments:
    all: tuple[Environment, ...]

    def __post_init__(self) -> None:
        if not self.all:
            raise ValueError("at least one environment is needed")
        seen: dict[str, str] = {}
        for env in self.all:
            for channel in env.channel_ids:
                if channel in seen:
                    raise ValueError(f"channel {channel} is in environments {seen[channel]!r} and {env.name!r}")
                seen[channel] = env.name

    @property
    def single(self) -> bool:
        return len(self.all) == 1 and not self.all[0].channel_ids

    def for_channel(self, channel_id: str) -> Environment | None:
        for env in self.all:
            if env.channel_ids and channel_id in env.channel_ids:
                return env
        for env in self.all:
            if not env.channel_ids:
                return env
        return None

    def named(self, name: str) -> Environment | None:
        return next((env for env in self.all if env.name == name), None)

    def for_project(self, project_id: str) -> Environment | None:
        return next((env for env in self.all if env.project_id == project_id), None)

    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(channel for env in self.all for channel in env.channel_ids))

    def standing(self, actor: Actor, channel_id: str) -> Standing:
        """What `actor` may do in `channel_id`: its environment, whether they may request there (or why not), and
        which of its approval stages they may approve in."""
        env = self.for_channel(channel_id)
        if env is None:
            return Standing(actor, None, Refusal("not_set_up", self.not_set_up(channel_id)))
        policy = env.policy
        return Standing(
            actor,
            env,
            policy.can_request(actor, channel_id),
            policy.approvable_stages(actor),
            policy.is_urgent_approver(actor),
        )

    def not_set_up(self, channel_id: str) -> str:
        """The answer in a channel that is in no environment."""
        where = ", ".join(f"<#{c}>" for c in self.channels()) or "no channel yet"
        return f"This channel is not set up for restores. Restores can be requested in {where}."


def _reminders_line(rule: ReminderRule) -> str:
    """ "Reminders: after 15 minutes, then every 30 minutes; escalated to <!subteam^S0ONCALL> after 45 minutes." """
    text = f"Reminders: after {_minutes(rule.remind_after.total_seconds() / 60)}"
    if rule.repeat_every is not None:
        text += f", then every {_minutes(rule.repeat_every.total_seconds() / 60)}"
    if rule.escalate_after is not None:
        who = describe_who(rule.escalate_user_ids, rule.escalate_group_ids)
        text += f"; escalated to {who} after {_minutes(rule.escalate_after.total_seconds() / 60)}"
    return text + f". The requester may nudge every {_minutes(rule.nudge_cooldown.total_seconds() / 60)}."


def _minutes(minutes: float) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes:g} minutes"
