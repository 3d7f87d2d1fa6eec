"""The restore form's use cases (bot.workflow.forms) over the DDM simulator: step 1 resolved into the choice step 2
starts from, or each problem on the field it belongs to; the targets offered; step 2's data nodes, candidates and suggested mapping."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.choices import ChoicesUnavailable, RestoreChoices
from bot.playground.slack_api import FakeUser
from bot.restore.checks import MAPPING, SOURCE, TARGET, PlanProblem
from bot.restore.plan import NamedRef
from bot.simulator import Fault
from bot.simulator.world import (
    LEGACY_DDM_ID,
    ORDERS_PROD_ID,
    ORDERS_RESTORE_1_ID,
    ORDERS_RESTORE_2_ID,
    ORDERS_RESTORE_3_ID,
    ORDERS_RESTORE_4_ID,
)
from bot.workflow.forms import (
    Choice,
    Field,
    FieldProblems,
    MappingChoices,
    Step1Entry,
    check_request,
    check_step1,
    mapping_choices,
    targets_offered,
)
from tests.support.bench import CHANNEL, Bench

FILLED_IN = Step1Entry(source=ORDERS_PROD_ID, target=ORDERS_RESTORE_1_ID, typed_time="latest")


async def step1(bench: Bench, **changes: object) -> Choice | FieldProblems:
    return await check_step1(RestoreChoices(bench.ddm), replace(FILLED_IN, **changes))


async def problems(bench: Bench, **entry: object) -> dict[Field, str]:
    checked = await step1(bench, **entry)
    assert isinstance(checked, FieldProblems), checked
    return dict(checked.messages)


async def test_the_targets_offered_are_the_available_ones_matching_the_query(bench: Bench) -> None:
    choices = RestoreChoices(bench.ddm)
    offered = await targets_offered(choices, "orders-prod")
    assert offered is not None
    assert {t.id for t in offered} == {ORDERS_RESTORE_1_ID, ORDERS_RESTORE_3_ID, ORDERS_RESTORE_4_ID}
    assert [t.name for t in await targets_offered(choices, ORDERS_PROD_ID, " Restore-3 ") or []] == ["orders-restore-3"]
    assert [t.id for t in await targets_offered(choices, ORDERS_PROD_ID, ORDERS_RESTORE_4_ID[:8]) or []] == [
        ORDERS_RESTORE_4_ID
    ]
    assert await targets_offered(choices, ORDERS_PROD_ID, "restore-2") == []  # busy: not offered
    assert await targets_offered(choices, "orders-qa") is None


async def test_latest_by_names_resolves_to_ids_names_and_the_window_end(bench: Bench) -> None:
    windows = await bench.ddm.windows(ORDERS_PROD_ID)
    checked = await step1(bench, source="orders-prod", target="ORDERS-RESTORE-1")
    assert checked == Choice(
        source=NamedRef(id=ORDERS_PROD_ID, name="orders-prod"),
        target=NamedRef(id=ORDERS_RESTORE_1_ID, name="orders-restore-1"),
        restore_time_ms=max(w.end_ms for w in windows),
    )


async def test_a_picked_minute_is_the_restore_point_and_a_typed_time_wins_over_it(bench: Bench) -> None:
    end = max(w.end_ms for w in await bench.ddm.windows(ORDERS_PROD_ID))
    picked = (end - 3_600_000) // 1000
    checked = await step1(bench, typed_time="", picked_time=picked)
    assert isinstance(checked, Choice) and checked.restore_time_ms == picked * 1000
    typed = await step1(bench, typed_time=str(end - 60_000), picked_time=picked)
    assert isinstance(typed, Choice) and typed.restore_time_ms == end - 60_000


async def test_nothing_filled_in_is_said_on_each_field(bench: Bench) -> None:
    assert await problems(bench, source=None, target=None, typed_time="") == {
        Field.SOURCE: "Choose the source DDM instance.",
        Field.TARGET: "Choose the target DDM instance.",
        Field.PICKED_TIME: "Pick a restore point, or type an exact time (or latest) below.",
    }
    assert bench.sim.state.calls == []  # nothing to ask DDM


async def test_unreadable_input_is_said_on_its_field_before_ddm_is_asked(bench: Bench) -> None:
    found = await problems(bench, source="x" * 151, typed_time="2026-11-27 09:12")
    assert found[Field.SOURCE] == "That is not a DDM instance name or id (too long)."
    assert "has no time zone" in found[Field.TYPED_TIME] and set(found) == {Field.SOURCE, Field.TYPED_TIME}
    assert await problems(bench, typed_time="1" * 65) == {Field.TYPED_TIME: "An exact time has at most 64 characters."}
    assert Field.PICKED_TIME in await problems(bench, typed_time="", picked_time="soon")
    assert bench.sim.state.calls == []


async def test_an_unknown_source_is_on_the_source(bench: Bench) -> None:
    assert await problems(bench, source="orders-qa") == {
        Field.SOURCE: "No DDM instance is named or has the id “orders-qa”."
    }


async def test_a_restore_time_outside_the_window_is_on_the_time_field_it_was_given_in(bench: Bench) -> None:
    typed = await problems(bench, typed_time="2020-01-01T00:00:00Z")
    assert list(typed) == [Field.TYPED_TIME] and "is outside the restorable window" in typed[Field.TYPED_TIME]
    picked = await problems(bench, typed_time="", picked_time=1_577_836_800)  # 2020-01-01, in seconds
    assert list(picked) == [Field.PICKED_TIME] and "is outside the restorable window" in picked[Field.PICKED_TIME]


async def test_latest_of_a_source_without_backups_is_on_the_time(bench: Bench) -> None:
    assert await problems(bench, source=LEGACY_DDM_ID) == {
        Field.TYPED_TIME: "This instance has no restorable time window (no usable backups)."
    }


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (ORDERS_PROD_ID, "The target must be another DDM instance than the source."),
        ("orders-prod", "The target must be another DDM instance than the source."),
        ("orders-qa", "“orders-qa” is not a restore target for orders-prod."),
    ],
)
async def test_a_target_that_is_no_restore_target_is_on_the_target(bench: Bench, target: str, message: str) -> None:
    assert await problems(bench, target=target) == {Field.TARGET: message}


async def test_a_target_ddm_calls_busy_is_on_the_target_with_ddm_reason(bench: Bench) -> None:
    found = await problems(bench, target=ORDERS_RESTORE_2_ID)
    assert list(found) == [Field.TARGET] and found[Field.TARGET].startswith("orders-restore-2 can't be used: ")


@pytest.mark.parametrize(
    ("route", "field", "said"),
    [
        ("list_instances", Field.SOURCE, "DDM could not be asked: "),
        ("restorable_time_interval", Field.SOURCE, "DDM could not be asked: "),
        ("restorable_instances", Field.TARGET, "DDM could not list the restore targets: "),
    ],
)
async def test_ddm_unreachable_is_on_the_field_whose_question_failed(
    bench: Bench, route: str, field: Field, said: str
) -> None:
    bench.sim.state.faults.add(Fault(route=route, kind="500"))
    found = await problems(bench)
    assert list(found) == [field] and found[field].startswith(said) and "DBS.200412" in found[field]


# ---- step 2's choices -----------------------------------------------------------------------------------------


async def mapping(
    bench: Bench, preferred: dict[str, str] | None = None, target: str = ORDERS_RESTORE_1_ID
) -> MappingChoices:
    checked = await step1(bench, target=target)
    assert isinstance(checked, Choice), checked
    return await mapping_choices(RestoreChoices(bench.ddm), checked, preferred)


def suggested_names(found: MappingChoices) -> dict[str, str | None]:
    names = {c.id: c.name for n in found.nodes for c in n.candidates}
    return {n.node.name: names.get(n.suggested or "") for n in found.nodes}


async def test_each_source_data_node_gets_ddm_candidates_and_a_suggestion_by_its_number(bench: Bench) -> None:
    found = await mapping(bench)
    assert suggested_names(found) == {"orders-rds-0": "restore-rds-0", "orders-rds-1": "restore-rds-1"}
    for node in found.nodes:
        assert node.mappable and node.node.detail == "MySQL 8.0.28, 100 GB"
        unavailable = {c.name: c.reason for c in node.candidates if not c.available}
        assert unavailable["restore-rds-2"] == "The storage (40 GB) is smaller than the source's (100 GB)."
    assert found.unmappable == ()


async def test_a_preferred_mapping_by_names_in_any_case_is_followed_where_it_can_be(bench: Bench) -> None:
    found = await mapping(bench, {"ORDERS-RDS-0": "Restore-Rds-6", "orders-rds-1": "restore-rds-2"})
    # restore-rds-2 is too small: orders-rds-1 gets the one its number suggests.
    assert suggested_names(found) == {"orders-rds-0": "restore-rds-6", "orders-rds-1": "restore-rds-1"}


async def test_a_target_whose_data_nodes_none_can_reach_leaves_every_node_unmappable(bench: Bench) -> None:
    target = bench.sim.state.world.ddm(ORDERS_RESTORE_3_ID)
    assert target is not None
    target.vpc_name = "vpc-qa"
    found = await mapping(bench, target=ORDERS_RESTORE_3_ID)
    assert [n.node.name for n in found.unmappable] == ["orders-rds-0", "orders-rds-1"]
    assert all(n.suggested is None for n in found.nodes)
    assert "not in the same VPC" in str(found.nodes[0].candidates[0].reason)


@pytest.mark.parametrize("route", ["related_dn", "restorable_data_node"])
async def test_ddm_unreachable_for_the_mapping_is_raised_for_the_form_to_say(bench: Bench, route: str) -> None:
    checked = await step1(bench)
    assert isinstance(checked, Choice)
    bench.sim.state.faults.add(Fault(route=route, kind="500"))
    with pytest.raises(ChoicesUnavailable, match=r"DBS\.200412"):
        await mapping_choices(RestoreChoices(bench.ddm), checked)


# ---- the request, before the form closes ----------------------------------------------------------------------


async def test_a_plan_that_can_be_requested_has_no_problems_and_nothing_is_stored(bench: Bench) -> None:
    plan = await bench.plan()
    assert await check_request(bench.desk, plan, requester_id="UALICE", channel_id=CHANNEL) == []
    assert await bench.store.recent(10) == []


async def test_a_target_another_request_holds_is_on_the_target(bench: Bench) -> None:
    holder = await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)
    found = await check_request(bench.desk, await bench.plan(), requester_id="UBOB", channel_id=CHANNEL)
    assert found == [PlanProblem(TARGET, f"{ORDERS_RESTORE_1_ID} is busy with {holder.id} (pending).")]


async def test_who_may_not_request_is_said_on_the_mapping(bench: Bench) -> None:
    bench.fake.add_user(FakeUser("UGUEST", "guest", is_restricted=True))
    found = await check_request(bench.desk, await bench.plan(), requester_id="UGUEST", channel_id=CHANNEL)
    assert found == [PlanProblem(MAPPING, "Guests can't request restores.")]


async def test_what_ddm_says_now_is_on_its_field(bench: Bench) -> None:
    busy = await check_request(
        bench.desk, await bench.plan(target=ORDERS_RESTORE_2_ID), requester_id="UALICE", channel_id=CHANNEL
    )
    assert [p.field for p in busy] == [TARGET] and busy[0].message.startswith("orders-restore-2 can't be used: ")
    plan = await bench.plan()
    bench.sim.state.faults.add(Fault(route="list_instances", kind="500"))
    unreachable = await check_request(bench.desk, plan, requester_id="UALICE", channel_id=CHANNEL)
    assert [p.field for p in unreachable] == [SOURCE] and "DBS.200412" in unreachable[0].message
