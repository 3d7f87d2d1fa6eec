"""Routing rules (bot.restore.rules) and the frozen flow (bot.restore.flow): each condition, first match wins,
windows across midnight and zones, the rules no request can reach, and a request decided by its own flow whatever
the configuration says now."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import Refusal
from bot.restore.flow import Flow, Stage
from bot.restore.policy import FLOW, Actor, ApprovalPolicy
from bot.restore.request import Approval
from bot.restore.rules import Conditions, RequestFacts, Rule, Window, first_match, glob_problem, unreachable
from tests.support.domain_request import request

# Saturday 28 November 2026, 09:00 in Shanghai (01:00 UTC).
SATURDAY = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
LEAD = Stage("DBA lead", approver_group_ids=frozenset({"SLEADS"}))
OWNER = Stage("Service owner", approver_user_ids=frozenset({"UOWNER"}))
WEEKEND = Window(frozenset({5, 6}), 0, 23 * 60 + 59, "Asia/Shanghai")
RULES = (
    Rule("old restore point", Conditions(older_than=timedelta(hours=24)), flow=("DBA lead", "Service owner")),
    Rule("change freeze", Conditions(window=WEEKEND), refuse="Restores are frozen at weekends."),
    Rule("drill targets", Conditions(target_glob="*-drill-*"), flow=("DBA lead",)),
)
POLICY = ApprovalPolicy(stages=(LEAD, OWNER), rules=RULES)


def facts(
    *,
    age: timedelta = timedelta(hours=1),
    now: datetime = WEDNESDAY,
    target: str = "orders-restore-1",
    target_id: str = "tgtin09",
    source: str = "orders-prod",
    nodes: int = 2,
    requester: str = "UALICE",
    groups: frozenset[str] = frozenset(),
) -> RequestFacts:
    return RequestFacts(
        source_id="srcin09",
        source_name=source,
        target_id=target_id,
        target_name=target,
        restore_time=now - age,
        data_nodes=nodes,
        requester_id=requester,
        requester_group_ids=groups,
        now=now,
    )


def test_the_first_rule_that_holds_chooses_the_flow_or_refuses() -> None:
    old = POLICY.route(facts(age=timedelta(hours=30)))
    assert old == Flow((LEAD, OWNER), rule="old restore point")
    # Old at a weekend: the first rule wins, the freeze is never asked.
    assert POLICY.route(facts(age=timedelta(hours=30), now=SATURDAY)) == old
    frozen = POLICY.route(facts(now=SATURDAY))
    assert isinstance(frozen, Refusal) and frozen.message == "Restores are frozen at weekends." and frozen.field == FLOW
    assert POLICY.route(facts(target="orders-drill-1")) == Flow((LEAD,), rule="drill targets")
    # No rule holds: the environment's stages, no rule named.
    assert POLICY.route(facts()) == Flow((LEAD, OWNER))
    assert ApprovalPolicy(approver_user_ids=frozenset({"UBOB"}), required_approvals=2).route(facts()) == Flow(
        (Stage("", frozenset({"UBOB"}), frozenset(), 2),)
    )


@pytest.mark.parametrize(
    ("conditions", "holds", "fails"),
    [
        (Conditions(older_than=timedelta(hours=24)), facts(age=timedelta(hours=25)), facts(age=timedelta(hours=24))),
        (Conditions(newer_than=timedelta(hours=24)), facts(age=timedelta(hours=23)), facts(age=timedelta(hours=24))),
        (Conditions(target_glob="*-drill-?"), facts(target="orders-drill-1"), facts(target="orders-drill-10")),
        (Conditions(target_glob="tgt*"), facts(target="by-id-only"), facts(target="target", target_id="in09")),
        (Conditions(source_glob="orders-[ab]*"), facts(source="orders-archive"), facts(source="Orders-archive")),
        (Conditions(data_nodes_at_least=3), facts(nodes=3), facts(nodes=2)),
        (Conditions(window=WEEKEND), facts(now=SATURDAY), facts(now=WEDNESDAY)),
        (
            Conditions(requester_user_ids=frozenset({"UBOB"}), requester_group_ids=frozenset({"SDBA"})),
            facts(requester="UCAROL", groups=frozenset({"SDBA"})),
            facts(requester="UCAROL", groups=frozenset({"SOTHER"})),
        ),
        (
            Conditions(older_than=timedelta(hours=24), data_nodes_at_least=2),
            facts(age=timedelta(days=2), nodes=2),
            facts(age=timedelta(days=2), nodes=1),
        ),
    ],
)
def test_each_condition_holds_or_not(conditions: Conditions, holds: RequestFacts, fails: RequestFacts) -> None:
    assert conditions.hold(holds) and not conditions.hold(fails)
    assert Conditions().hold(fails)  # no condition: every request


def test_windows_in_their_zone_and_past_midnight() -> None:
    # 00:00-23:59 Saturday and Sunday in Shanghai: Friday 16:00 UTC is Saturday 00:00 there.
    assert WEEKEND.contains(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))
    assert not WEEKEND.contains(datetime(2026, 11, 27, 15, 59, tzinfo=UTC))
    assert WEEKEND.contains(datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC))  # Sunday 23:59:59
    assert not WEEKEND.contains(datetime(2026, 11, 29, 16, 0, tzinfo=UTC))  # Monday 00:00
    # Friday 22:00 to 06:00 (both minutes included), UTC: Saturday 06:00 is still Friday's night; 22:00 is not.
    night = Window(frozenset({4}), 22 * 60, 6 * 60, "UTC")
    assert night.contains(datetime(2026, 11, 27, 22, 0, tzinfo=UTC))
    assert night.contains(datetime(2026, 11, 28, 6, 0, 59, tzinfo=UTC))
    assert not night.contains(datetime(2026, 11, 28, 6, 1, tzinfo=UTC))
    assert not night.contains(datetime(2026, 11, 28, 22, 0, tzinfo=UTC))
    assert not night.contains(datetime(2026, 11, 27, 5, 0, tzinfo=UTC))  # Thursday's night is not in it


def test_rules_no_request_can_reach() -> None:
    older = Rule("old", Conditions(older_than=timedelta(hours=24)), flow=("DBA lead",))
    ancient = Rule("ancient", Conditions(older_than=timedelta(hours=48), data_nodes_at_least=2), refuse="no")
    assert unreachable([older, ancient]) == [(1, "rule[1] ('old') comes first and takes every request it would")]
    assert unreachable([ancient, older]) == []  # the wider one after the narrower: both reachable
    everything = Rule("all", Conditions(), flow=("DBA lead",))
    assert [index for index, _ in unreachable([everything, older, ancient])] == [1, 2]
    drill = Rule("drill", Conditions(target_glob="*-drill-*"), flow=("DBA lead",))
    one_drill = Rule("one drill", Conditions(target_glob="orders-drill-1"), flow=("DBA lead",))
    other_glob = Rule("other", Conditions(target_glob="orders-*"), flow=("DBA lead",))
    assert [index for index, _ in unreachable([drill, one_drill, other_glob])] == [1]
    weekend = Rule("weekend", Conditions(window=WEEKEND), refuse="frozen")
    sunday_night = Window(frozenset({6}), 20 * 60, 23 * 60, "Asia/Shanghai")
    assert [i for i, _ in unreachable([weekend, Rule("s", Conditions(window=sunday_night), refuse="x")])] == [1]
    # Another zone, or a window past the weekend's end: not proven, not reported.
    elsewhere = replace(sunday_night, zone="UTC")
    assert unreachable([weekend, Rule("s", Conditions(window=elsewhere), refuse="x")]) == []
    past_midnight = Window(frozenset({6}), 22 * 60, 1 * 60, "Asia/Shanghai")
    assert unreachable([weekend, Rule("s", Conditions(window=past_midnight), refuse="x")]) == []
    team = Rule("team", Conditions(requester_group_ids=frozenset({"SDBA"})), flow=("DBA lead",))
    team_and_bob = Rule("bob", Conditions(requester_user_ids=frozenset({"UBOB"})), flow=("DBA lead",))
    assert unreachable([team, team_and_bob]) == []  # Bob may not be in the group
    contradiction = Rule(
        "never", Conditions(older_than=timedelta(hours=24), newer_than=timedelta(hours=12)), flow=("DBA lead",)
    )
    assert unreachable([contradiction]) == [(0, "no restore point is older than 24 h and newer than 12 h at once")]


def test_first_match_and_globs() -> None:
    assert first_match(RULES, facts(age=timedelta(days=2))) is RULES[0]
    assert first_match(RULES, facts()) is None
    assert glob_problem("*-drill-*") is None and glob_problem("[!x]y") is None and glob_problem("[]]") is None
    assert glob_problem("") is not None and glob_problem("  ") is not None
    assert glob_problem("orders-[ab") == "the [ at position 8 is never closed"


def test_a_flow_says_who_is_asked_and_keeps_its_shape_in_json() -> None:
    flow = Flow((LEAD, OWNER), rule="old restore point")
    assert flow.describe() == (
        "DBA lead (1 of <!subteam^SLEADS>), then Service owner (<@UOWNER>) — rule *old restore point*"
    )
    assert Flow((Stage("", frozenset({"UB", "UA"}), frozenset(), 2),)).describe() == "2 of <@UA>, <@UB>"
    assert Flow.from_json(flow.to_json()) == flow and flow.total_required == 2 and flow.named
    backfilled = replace(flow, backfilled=True)
    assert Flow.from_json(backfilled.to_json()) == backfilled and "backfilled" not in flow.to_json()
    with pytest.raises(ValueError, match="at least one stage"):
        Flow(())


def test_a_request_is_decided_by_its_frozen_flow_not_by_the_configuration_now() -> None:
    frozen = Flow((LEAD, OWNER), rule="old restore point")
    pending = request(required_approvals=2, flow=frozen, approvals=(Approval("UCAROL", WEDNESDAY, stage=1),))
    # The configuration now: the service owner is someone else, and there is one stage only.
    changed = ApprovalPolicy(stages=(Stage("Service owner", approver_user_ids=frozenset({"UERIN"})),))
    policy = changed.for_request(pending)
    assert policy.stages == (LEAD, OWNER) and policy.current_stage(pending) == 2
    assert policy.can_approve(Actor("UOWNER"), pending, WEDNESDAY) is None
    refused = policy.can_approve(Actor("UERIN"), pending, WEDNESDAY)
    assert refused is not None and refused.code == "not_approver"
    assert policy.stage_lines(pending) == (
        "✅ DBA lead — <@UCAROL>   ⏳ Service owner — waiting for <@UOWNER> (0/1)   — rule *old restore point*"
    )
    # One unnamed stage (the settings' environment, or the urgent path), frozen as such.
    single = request(flow=Flow((Stage("", frozenset({"UBOB"})),)))
    settings_now = ApprovalPolicy(approver_user_ids=frozenset({"UDAN"}))
    assert settings_now.for_request(single).describe_approvers() == "<@UBOB>"
    assert settings_now.for_request(single).stage_lines(single) == ""
    # A request from before frozen flows: the configuration's stages stand in.
    assert changed.for_request(request()).stages == changed.stages
