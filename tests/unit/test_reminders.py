"""The reminder schedule (bot.restore.reminders): pure, from the stage's start, the rule, what was sent and now."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.envfile_shape import RemindersConfig
from bot.restore.environment import Environment
from bot.restore.policy import ApprovalPolicy
from bot.restore.reminders import Due, Kind, ReminderRule, Sent, due, stage_started
from bot.restore.request import Approval
from bot.restore.stages import StageRule

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
RULE = ReminderRule(
    remind_after=timedelta(minutes=15),
    repeat_every=timedelta(minutes=30),
    escalate_after=timedelta(minutes=45),
    escalate_group_ids=frozenset({"S0ONCALL"}),
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_nothing_is_due_before_remind_after() -> None:
    assert due(RULE, 1, T0, None, at(14.9)) is None


def test_reminders_are_numbered_one_per_period() -> None:
    assert due(RULE, 1, T0, None, at(15)) == Due(1, Kind.REMINDER, 1)
    assert due(RULE, 1, T0, Sent(1, reminders=1), at(44)) is None
    sent = Sent(1, reminders=1, escalated_user_ids=frozenset(), escalated_group_ids=frozenset({"S0ONCALL"}))
    assert due(RULE, 1, T0, sent, at(45)) == Due(1, Kind.REMINDER, 2)
    # A sweeper that slept through periods sends the latest one only: never two for one period.
    assert due(RULE, 1, T0, sent, at(200)) == Due(1, Kind.REMINDER, 7)


def test_the_escalation_comes_once_at_escalate_after_and_is_stored_with_who() -> None:
    assert due(RULE, 1, T0, Sent(1, reminders=1), at(45)) == Due(1, Kind.ESCALATION)
    after = Due(1, Kind.ESCALATION).after(Sent(1, reminders=1), RULE)
    assert after.escalated and after.escalated_group_ids == {"S0ONCALL"} and after.reminders == 1
    assert Sent.from_json(after.to_json()) == after
    assert not Due(1, Kind.ESCALATION).sendable(after)


def test_a_new_stage_starts_afresh_from_the_approval_that_completed_the_one_before() -> None:
    rule = StageRule((1, 1))
    approvals = [Approval("UBOB", at(20), stage=1)]
    assert stage_started(rule, [], T0) == (1, T0)
    assert stage_started(rule, approvals, T0) == (2, at(20))
    assert stage_started(rule, [*approvals, Approval("UDAN", at(21), stage=2)], T0) is None
    escalated_on_1 = Sent(1, reminders=2, escalated_user_ids=frozenset(), escalated_group_ids=frozenset({"S"}))
    assert due(RULE, 2, at(20), escalated_on_1, at(34)) is None
    assert due(RULE, 2, at(20), escalated_on_1, at(35)) == Due(2, Kind.REMINDER, 1)
    assert Due(2, Kind.REMINDER, 1).sendable(escalated_on_1)


def test_without_repeat_or_escalation_one_reminder_per_stage() -> None:
    once = ReminderRule(remind_after=timedelta(seconds=3))
    assert due(once, 1, T0, None, T0 + timedelta(hours=5)) == Due(1, Kind.REMINDER, 1)
    assert due(once, 1, T0, Sent(1, reminders=1), T0 + timedelta(hours=5)) is None


def test_fractions_of_minutes_and_the_next_wake_up() -> None:
    fast = ReminderRule(
        remind_after=timedelta(minutes=0.05),
        repeat_every=timedelta(minutes=0.05),
        escalate_after=timedelta(minutes=0.1),
    )
    assert fast.next_after(timedelta(0)) == timedelta(seconds=3)
    assert fast.next_after(timedelta(seconds=4)) == timedelta(seconds=2)  # both the 2nd reminder and the escalation
    assert due(fast, 1, T0, None, T0 + timedelta(seconds=3)) == Due(1, Kind.REMINDER, 1)


def test_the_readme_s_example_is_a_valid_reminders_section() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n[environment.reminders]\n", 1)[1].split("```", 1)[0]
    config = RemindersConfig.model_validate(tomllib.loads(block))
    assert (config.remind_after_minutes, config.escalate_after_minutes) == (15, 45)
    assert config.escalate_to is not None and config.escalate_to.usergroups == ["S0ONCALL"]


def test_an_escalation_needs_both_its_time_and_its_people() -> None:
    with pytest.raises(ValidationError, match="escalate_after_minutes and escalate_to go together"):
        RemindersConfig.model_validate({"remind_after_minutes": 1, "escalate_after_minutes": 2})
    with pytest.raises(ValidationError, match="escalate_after_minutes and escalate_to go together"):
        RemindersConfig.model_validate({"remind_after_minutes": 1, "escalate_to": {"users": ["U0ONCALL1"]}})
    with pytest.raises(ValidationError):
        RemindersConfig.model_validate({"remind_after_minutes": 0})


def test_the_policy_answer_tells_the_reminders() -> None:
    policy = ApprovalPolicy(approver_user_ids=frozenset({"UBOB"}), reminders=RULE)
    text = Environment("prod", "cn-north-4", "p1", policy).rules_text()
    assert (
        "Reminders: after 15 minutes, then every 30 minutes; escalated to members of <!subteam^S0ONCALL> after "
        "45 minutes. The requester may nudge every 15 minutes."
    ) in text.splitlines()
    assert "Reminders" not in Environment("prod", "cn-north-4", "p1", ApprovalPolicy()).rules_text()
