"""Routing on the in-memory store: the rules choose the flow when a request is made, the flow is frozen into it and
decides it whatever the configuration says later, a freeze refuses (but not the urgent path), pending requests
made before frozen flows get their environment's stages, and the history pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import Refusal, StoreUnavailable
from bot.playground.slack_api import FakeUser
from bot.restore.flow import Flow, Stage
from bot.restore.lifecycle import Event
from bot.restore.plan import NamedRef, RestorePlan
from bot.restore.policy import FLOW, ApprovalPolicy, UrgentRule
from bot.restore.request import RequestState
from bot.restore.rules import Conditions, Rule, Window
from bot.simulator.world import ORDERS_RESTORE_3_ID
from bot.store.memory import MemoryStore
from bot.workflow.desk import HISTORY_PAGE_SIZE, RestoreDesk
from bot.workflow.places import Places
from bot.workflow.sweep import Sweeper
from tests.support.bench import CHANNEL, TTL, Bench

S = RequestState
LEAD = Stage("DBA lead", approver_user_ids=frozenset({"UBOB"}))
OWNER = Stage("Service owner", approver_user_ids=frozenset({"UDAN"}))
FREEZE = "Restores are frozen at weekends; use the urgent path for incidents."
RULES = (
    Rule("change freeze", Conditions(window=Window(frozenset({5, 6}), 0, 1439, "Asia/Shanghai")), refuse=FREEZE),
    Rule("old restore point", Conditions(older_than=timedelta(hours=24)), flow=("DBA lead", "Service owner")),
    Rule("recent restore point", Conditions(newer_than=timedelta(hours=24)), flow=("DBA lead",)),
)
URGENT = UrgentRule(approver_user_ids=frozenset({"UERIN"}), reviewer_user_ids=frozenset({"UBOB"}))
POLICY = ApprovalPolicy(stages=(LEAD, OWNER), rules=RULES, ttl=TTL, urgent=URGENT)


def desk_of(bench: Bench, policy: ApprovalPolicy, now: datetime | None = None) -> RestoreDesk:
    """The desk of an environment with `policy` (its configuration as it is now), on the bench's store; at `now`
    when given (the rules' time: DDM keeps the bench's clock)."""
    for user in ("UDAN", "UERIN"):
        bench.fake.add_user(FakeUser(user, user.lower()))
    return RestoreDesk(
        store=bench.store,
        places=Places.one(bench.ddm, policy),
        directory=bench.directory,
        clock=(lambda: now) if now is not None else bench.clock,
        submit=bench.submitter.submit,
    )


def next_saturday(moment: datetime) -> datetime:
    local = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    saturday = (local + timedelta(days=(5 - local.weekday()) % 7 or 7)).replace(hour=10, minute=0)
    return saturday.astimezone(UTC)


async def plan_at(bench: Bench, age: timedelta) -> RestorePlan:
    plan = await bench.plan()
    return plan.model_copy(update={"restore_time_ms": int((bench.clock() - age).timestamp() * 1000)})


async def test_the_flow_is_chosen_when_the_request_is_made_frozen_and_kept_whatever_the_configuration_says(
    bench: Bench,
) -> None:
    desk = desk_of(bench, replace(POLICY, rules=RULES[1:]))  # the freeze is the next test's
    old = await desk.create(await plan_at(bench, timedelta(hours=30)), requester_id="UALICE", channel_id=CHANNEL)
    assert old.flow == Flow((LEAD, OWNER), rule="old restore point") and old.required_approvals == 2
    assert old.fingerprint_matches_plan and old.fingerprint != old.plan.fingerprint()
    (created,) = await bench.store.audit_trail(old.id)
    assert created.details["flow"]["rule"] == "old restore point"

    await desk.approve(old.id, "UBOB")
    assert (await bench.store.get(old.id)).state is S.PENDING  # type: ignore[union-attr]
    assert [c for c in bench.sim.state.calls if c.route == "recovery"] == []

    # The configuration changes while it is pending: another service owner, no more rules.
    changed = desk_of(bench, ApprovalPolicy(stages=(LEAD, Stage("Service owner", frozenset({"UERIN"}))), ttl=TTL))
    with pytest.raises(Refusal) as refused:
        await changed.approve(old.id, "UERIN")
    assert refused.value.code == "not_approver" and refused.value.message == "Only <@UBOB> or <@UDAN> can approve."
    await changed.approve(old.id, "UDAN")
    running = await bench.store.get(old.id)
    assert running is not None and running.state is S.RUNNING and running.flow == old.flow
    assert [(a.user_id, a.stage) for a in running.approvals] == [("UBOB", 1), ("UDAN", 2)]
    assert len([c for c in bench.sim.state.calls if c.route == "recovery"]) == 1

    recent = await desk.create(await bench.plan(ORDERS_RESTORE_3_ID), requester_id="UALICE", channel_id=CHANNEL)
    assert recent.flow == Flow((LEAD,), rule="recent restore point") and recent.required_approvals == 1
    await desk.approve(recent.id, "UBOB")
    assert (await bench.store.get(recent.id)).state is S.RUNNING  # type: ignore[union-attr]


async def test_a_freeze_refuses_in_the_form_and_at_create_but_not_the_urgent_path(bench: Bench) -> None:
    saturday = desk_of(bench, POLICY, now=next_saturday(bench.clock()))
    plan = await bench.plan()
    with pytest.raises(Refusal) as shown:
        await saturday.flow_for(
            source=plan.source,
            target=plan.target,
            restore_time_ms=plan.restore_time_ms,
            data_nodes=len(plan.mappings),
            requester_id="UALICE",
            channel_id=CHANNEL,
        )
    assert (shown.value.message, shown.value.field, shown.value.code) == (FREEZE, FLOW, "rule_refused")
    for step in (saturday.precheck_create, saturday.create):
        with pytest.raises(Refusal) as refused:
            await step(plan, requester_id="UALICE", channel_id=CHANNEL)
        assert refused.value.message == FREEZE and refused.value.field == FLOW
    assert await bench.store.recent() == []

    urgent = await saturday.create(
        plan.model_copy(update={"urgent_incident": "INC-9001"}), requester_id="UALICE", channel_id=CHANNEL
    )
    assert urgent.flow == Flow((Stage("", frozenset({"UERIN"})),)) and urgent.required_approvals == 1
    # On a weekday the form names the flow.
    wednesday = desk_of(bench, POLICY, now=next_saturday(bench.clock()) + timedelta(days=4))
    flow = await wednesday.flow_for(
        source=NamedRef(id="x-id", name="x"),
        target=NamedRef(id="y-id", name="y"),
        restore_time_ms=plan.restore_time_ms,
        data_nodes=2,
        requester_id="UALICE",
        channel_id=CHANNEL,
    )
    assert flow.rule == "old restore point"  # four days after the restore point


async def test_pending_requests_made_before_frozen_flows_get_their_environments_stages_once(bench: Bench) -> None:
    plan = await bench.plan()
    made_before = await bench.store.create(
        plan=plan,
        requester_id="UALICE",
        channel_id=CHANNEL,
        required_approvals=2,
        now=bench.clock(),
        expires_at=bench.clock() + TTL,
    )
    other = await bench.plan()
    done_before = await bench.store.create(
        plan=other.model_copy(update={"target": NamedRef(id="another-target-in09")}),
        requester_id="UALICE",
        channel_id=CHANNEL,
        required_approvals=1,
        now=bench.clock(),
        expires_at=bench.clock() + TTL,
    )
    await bench.store.transition(done_before.id, Event.CANCEL, actor="UALICE", now=bench.clock())
    desk = desk_of(bench, POLICY)
    assert await desk.freeze_flows() == [made_before.id]
    frozen = await bench.store.get(made_before.id)
    assert frozen is not None and frozen.flow == Flow((LEAD, OWNER), backfilled=True)
    assert frozen.fingerprint == made_before.fingerprint and frozen.fingerprint_matches_plan
    assert (await bench.store.audit_trail(made_before.id))[-1].action == "flow_frozen"
    assert (await bench.store.get(done_before.id)).flow is None  # type: ignore[union-attr]
    assert await desk.freeze_flows() == []  # once
    # From now on a configuration change does not reach it.
    changed = desk_of(bench, ApprovalPolicy(approver_user_ids=frozenset({"UERIN"}), ttl=TTL))
    with pytest.raises(Refusal):
        await changed.approve(made_before.id, "UERIN")
    await changed.approve(made_before.id, "UBOB")
    await changed.approve(made_before.id, "UDAN")
    assert (await bench.store.get(made_before.id)).state is S.RUNNING  # type: ignore[union-attr]


async def test_the_history_pages_and_refuses_what_it_can_not_show(bench: Bench) -> None:
    made = []
    for index in range(HISTORY_PAGE_SIZE + 2):
        plan = (await bench.plan()).model_copy(update={"target": NamedRef(id=f"t{index}-in09")})
        request = await bench.store.create(
            plan=plan,
            requester_id="UALICE",
            channel_id=CHANNEL if index != 3 else "COTHER",
            required_approvals=1,
            now=bench.clock() - timedelta(hours=index),
            expires_at=bench.clock() + TTL,
        )
        made.append(request.id)
    first = await bench.desk.history(1, channel_ids={CHANNEL})
    assert first.total == HISTORY_PAGE_SIZE + 1 and len(first.requests) == HISTORY_PAGE_SIZE
    assert [r.id for r in first.requests][:3] == [made[0], made[1], made[2]]  # newest first, COTHER's left out
    second = await bench.desk.history(1, channel_ids={CHANNEL}, page=2)
    assert [r.id for r in second.requests] == [made[-1]]
    assert (await bench.desk.history(1, channel_ids=None)).total == HISTORY_PAGE_SIZE + 2
    assert (await bench.desk.history(1, channel_ids=None, page=3)).requests == []
    for days, page in ((0, 1), (366, 1), (1, 0)):
        with pytest.raises(Refusal):
            await bench.desk.history(days, channel_ids=None, page=page)


async def test_a_database_down_at_start_delays_the_freeze_to_the_first_sweep_that_gets_through(bench: Bench) -> None:
    made_before = await bench.store.create(
        plan=await bench.plan(),
        requester_id="UALICE",
        channel_id=CHANNEL,
        required_approvals=2,
        now=bench.clock(),
        expires_at=bench.clock() + TTL,
    )
    sweeper = Sweeper(
        store=bench.store,
        desk=desk_of(bench, POLICY),
        submitter=bench.submitter,
        clock=bench.clock,
        interval=30,
        spawn=lambda work, name: work.close(),
    )
    assert isinstance(bench.store, MemoryStore)
    bench.store.available = False
    with pytest.raises(StoreUnavailable):
        await sweeper.step()
    bench.store.available = True
    await sweeper.step()
    frozen = await bench.store.get(made_before.id)
    assert frozen is not None and frozen.flow == Flow((LEAD, OWNER), backfilled=True)
    trail = await bench.store.audit_trail(made_before.id)
    await sweeper.step()
    assert await bench.store.audit_trail(made_before.id) == trail  # once
