"""Environments: which channels restore in which project and region, under which approval rules. No I/O.

Without a configuration file there is one environment, named "", for every channel: the settings' project,
region and policy (today's behaviour). With one, each channel belongs to at most one environment, and a channel
in none is not set up for restores.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.restore.policy import ApprovalPolicy


@dataclass(frozen=True)
class Environment:
    name: str  # "" for the one environment the settings define
    region: str
    project_id: str
    policy: ApprovalPolicy
    channel_ids: frozenset[str] = frozenset()  # empty: every channel (only the settings' environment)

    @property
    def label(self) -> str:
        """How the card names it: "prod (cn-north-4)"; the region alone for the settings' environment."""
        return f"{self.name} ({self.region})" if self.name else self.region

    def serves(self, channel_id: str) -> bool:
        return not self.channel_ids or channel_id in self.channel_ids


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

    def not_set_up(self, channel_id: str) -> str:
        """The answer in a channel that is in no environment."""
        where = ", ".join(f"<#{c}>" for c in self.channels()) or "no channel yet"
        return f"This channel is not set up for restores. Restores can be requested in {where}."
