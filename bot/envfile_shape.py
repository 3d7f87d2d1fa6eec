"""The environments file's shape (TOML, read by bot.envfile): what each table and key may hold, checked by pydantic
field by field. What involves several keys (names that must be unique, stages a rule names, rules no request can
reach, secrets) is bot.envfile's to check.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config import GROUP_ID, GROUP_ID_HINT, USER_ID, USER_ID_HINT
from bot.restore.cron import CronError, parse_cron
from bot.restore.drills import parse_restore_point
from bot.restore.rules import WEEKDAYS, Conditions, Window, glob_problem
from bot.restore.verification import (
    DEFAULT_CHECK_TIMEOUT_SECONDS,
    DEFAULT_READY_WITHIN,
    parse_expect,
    plain_select,
    select_problem,
)

# A stage's or a rule's name is shown as it is on the card, in `policy` and in the form: plain words only (no
# Slack markup, no mentions), so what the file says is what people read.
SHOWN_NAME = r"^[^<>&*_~`|]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Who(_Strict):
    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not USER_ID.fullmatch(v)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} not a user ID; {USER_ID_HINT}")
        return value

    @field_validator("usergroups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not GROUP_ID.fullmatch(v)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} not a user group ID; {GROUP_ID_HINT}")
        return value

    @property
    def empty(self) -> bool:
        return not self.users and not self.usergroups


class CredentialsConfig(_Strict):
    ak_env: str | None = None
    sk_env: str | None = None
    security_token_env: str | None = None
    iam_username_env: str | None = None
    iam_password_env: str | None = None
    iam_domain_env: str | None = None


class StageConfig(_Strict):
    name: str = Field(min_length=1, max_length=80, pattern=SHOWN_NAME)
    approvers: Who
    required: int = Field(1, ge=1, le=10)


class UrgentConfig(_Strict):
    approvers: Who
    required: int = Field(1, ge=1, le=10)
    review_within_hours: float = Field(24, gt=0)
    reviewers: Who


class RemindersConfig(_Strict):
    """Never waiting in silence (bot.restore.reminders); minutes may be fractions (0.05 = 3 s, for tests)."""

    remind_after_minutes: float = Field(gt=0, le=7 * 24 * 60)
    repeat_every_minutes: float | None = Field(None, gt=0, le=7 * 24 * 60)
    escalate_after_minutes: float | None = Field(None, gt=0, le=7 * 24 * 60)
    escalate_to: Who | None = None
    nudge_cooldown_minutes: float = Field(15, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _escalation(self) -> RemindersConfig:
        has_who = self.escalate_to is not None and not self.escalate_to.empty
        if (self.escalate_after_minutes is None) != (not has_who):
            raise ValueError("escalate_after_minutes and escalate_to go together (give both, or neither)")
        return self


_BETWEEN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$", re.ASCII)


class WhenConfig(_Strict):
    """A routing rule's conditions (bot.restore.rules); all that are given must hold."""

    restore_point_older_than_hours: float | None = Field(None, gt=0)
    restore_point_newer_than_hours: float | None = Field(None, gt=0)
    target_matches: str | None = None
    source_matches: str | None = None
    data_nodes_at_least: int | None = Field(None, ge=1)
    weekdays: list[str] | None = None
    between: str | None = None
    timezone: str | None = None
    requester_in: Who | None = None

    @field_validator("target_matches", "source_matches")
    @classmethod
    def _glob(cls, value: str | None) -> str | None:
        if value is not None and (problem := glob_problem(value)) is not None:
            raise ValueError(problem)
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError(f"name at least one day ({', '.join(WEEKDAYS)})")
        bad = [day for day in value if day.upper() not in WEEKDAYS]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} not a weekday; use {', '.join(WEEKDAYS)}")
        return [day.upper() for day in value]

    @field_validator("between")
    @classmethod
    def _between(cls, value: str | None) -> str | None:
        if value is not None and not _BETWEEN.fullmatch(value):
            raise ValueError(f"{value!r} is not a range of times of day; write it as 22:00-06:00 (24-hour clock)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (KeyError, ValueError):  # not found, or not a zone's name at all
                raise ValueError(f"{value!r} is not a time zone; give one such as Asia/Shanghai or UTC") from None
        return value

    def conditions(self) -> Conditions:
        window = None
        if self.weekdays is not None or self.between is not None:
            start, end = (0, 24 * 60 - 1)
            if (found := _BETWEEN.fullmatch(self.between or "")) is not None:
                h1, m1, h2, m2 = (int(part) for part in found.groups())
                start, end = h1 * 60 + m1, h2 * 60 + m2
            days = frozenset(WEEKDAYS.index(day) for day in self.weekdays) if self.weekdays else frozenset(range(7))
            window = Window(days, start, end, self.timezone or "UTC")
        hours = self.restore_point_older_than_hours, self.restore_point_newer_than_hours
        who = self.requester_in or Who()
        return Conditions(
            older_than=timedelta(hours=hours[0]) if hours[0] is not None else None,
            newer_than=timedelta(hours=hours[1]) if hours[1] is not None else None,
            target_glob=self.target_matches,
            source_glob=self.source_matches,
            data_nodes_at_least=self.data_nodes_at_least,
            window=window,
            requester_user_ids=frozenset(who.users),
            requester_group_ids=frozenset(who.usergroups),
        )


class RuleConfig(_Strict):
    """A routing rule: when its conditions hold (first match wins), the stages it names or a refusal."""

    name: str = Field(min_length=1, max_length=80, pattern=SHOWN_NAME)
    when: WhenConfig = Field(default_factory=WhenConfig)
    flow: list[str] | None = None
    refuse: str | None = None


class CheckConfig(_Strict):
    """One SQL check on a restored target: a single SELECT; the first column of its first row against `expect`."""

    name: str = Field(min_length=1, max_length=80)
    database: str = Field(min_length=1, max_length=64)
    sql: str = Field(min_length=1)
    expect: str

    @field_validator("sql")
    @classmethod
    def _one_select(cls, value: str) -> str:
        problem = select_problem(value)
        if problem is not None:
            raise ValueError(f"only a single SELECT statement is accepted: {problem}")
        return plain_select(value)

    @field_validator("expect")
    @classmethod
    def _comparison(cls, value: str) -> str:
        parse_expect(value)  # ValueError: what is accepted
        return value


class VerifyConfig(_Strict):
    """How a completed restore is proven: DDM's view always; the SQL checks with a read-only account."""

    user_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(DEFAULT_CHECK_TIMEOUT_SECONDS, gt=0, le=3600)
    ready_within_minutes: float = Field(DEFAULT_READY_WITHIN.total_seconds() / 60, gt=0, le=24 * 60)
    check: list[CheckConfig] = Field(default_factory=list)


def _zone_problem(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (KeyError, ValueError):  # not found, or not a zone's name at all
        return f"{value!r} is not a time zone; give one such as Asia/Shanghai or UTC"
    return None


class DrillConfig(_Strict):
    """A restore the schedule asks for, to a target of a pool kept for drills, then verified and reported."""

    # Short: "drill:<name>" is the requester and the approver of its requests (32 characters at most).
    name: str = Field(min_length=1, max_length=26, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    schedule: str
    timezone: str = "UTC"
    source: str = Field(min_length=1)
    targets: list[str] = Field(min_length=1)
    restore_point: str = "latest"
    approval: Literal["auto", "stages"] = "auto"
    map: dict[str, str] = Field(default_factory=dict)
    window_minutes: float = Field(60, gt=0, le=8 * 24 * 60)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        try:
            parse_cron(value)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if (problem := _zone_problem(value)) is not None:
            raise ValueError(problem)
        return value

    @field_validator("restore_point")
    @classmethod
    def _restore_point(cls, value: str) -> str:
        parse_restore_point(value)  # ValueError: what is accepted
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        if any(not each.strip() for each in value):
            raise ValueError("a target is empty; name each DDM instance of the pool by name or id")
        if len(set(value)) < len(value):
            raise ValueError("a target is named twice")
        return value


class EnvironmentConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    channels: list[str] = Field(min_length=1)
    region: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    credentials: CredentialsConfig
    ddm_endpoint: str | None = None
    iam_endpoint: str | None = None
    requesters: Who | None = None
    approval_ttl_minutes: float = Field(60, gt=0)
    allow_self_approval: bool = False
    stage: list[StageConfig] = Field(min_length=1)
    urgent: UrgentConfig | None = None
    rule: list[RuleConfig] = Field(default_factory=list)
    verify: VerifyConfig | None = None
    reminders: RemindersConfig | None = None
    drill: list[DrillConfig] = Field(default_factory=list)


class ConfigFile(_Strict):
    environment: list[EnvironmentConfig] = Field(min_length=1)
