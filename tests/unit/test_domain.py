"""The domain without I/O: plan fingerprint, state machine, policy, time parsing, mapping, command text."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.restore.ids import new_request_id, normalise_request_id, short_id, short_ids
from bot.restore.lifecycle import LIFECYCLE, Event
from bot.restore.mapping import Candidate, mapping_problems, suggest_mapping
from bot.restore.notices import Notice
from bot.restore.plan import DataNodeMapping, NamedRef
from bot.restore.policy import Actor, ApprovalPolicy
from bot.restore.progress import milestone_reached
from bot.restore.request import ACTIVE_STATES, FINAL_STATES, Approval, RequestState
from bot.restore.timeparse import (
    TimeInputError,
    Window,
    check_in_windows,
    iso_utc,
    parse_restore_point,
    picker_epoch_ms,
    utc_text,
)
from bot.slack.command_text import ListRequests, OpenForm, ShowHelp, ShowStatus, parse_command
from tests.support.domain_request import NOW, plan, request

# ---- plan -----------------------------------------------------------------------------------------------


def test_restore_body_is_the_seed_shape() -> None:
    assert plan().restore_body() == {
        "source": {"restore_time": 1_747_732_352_076},
        "target": {"instance_id": "tgtin09"},
        "data_node_relations": [
            {"source_instance_id": "s0in01", "target_instance_id": "t0in01"},
            {"source_instance_id": "s1in01", "target_instance_id": "t1in01"},
        ],
    }


def test_fingerprint_binds_what_is_restored_not_names() -> None:
    base = plan().fingerprint()
    assert len(base) == 64
    assert plan(reason="INC-1").fingerprint() == base
    assert plan(target=NamedRef(id="tgtin09", name="renamed")).fingerprint() == base
    assert plan(restore_time_ms=1_747_732_352_077).fingerprint() != base
    assert plan(target=NamedRef(id="otherin09")).fingerprint() != base
    assert plan(source=NamedRef(id="src2in09")).fingerprint() != base
    assert plan(project_id="q").fingerprint() != base


def test_plan_problems() -> None:
    assert plan().problems() == []
    same = plan(target=NamedRef(id="srcin09"))
    assert same.problems()[0][0] == "target_instance"
    twice = plan(
        mappings=(
            DataNodeMapping(source=NamedRef(id="s0in01"), target=NamedRef(id="t0in01", name="r-0")),
            DataNodeMapping(source=NamedRef(id="s1in01", name="rds-1"), target=NamedRef(id="t0in01", name="r-0")),
        )
    )
    assert twice.problems() == [("dn_map:s1in01", "r-0 is already the target of s0in01; use each target once.")]


# ---- state machine ----------------------------------------------------------------------------------------


def test_transitions() -> None:
    S = RequestState
    assert LIFECYCLE[(S.PENDING, Event.APPROVED)].to is S.APPROVED
    assert LIFECYCLE[(S.SUBMITTING, Event.OUTCOME_UNKNOWN)].to is S.UNKNOWN
    assert LIFECYCLE[(S.UNKNOWN, Event.RECONCILED)].to is S.RUNNING
    assert (S.PENDING, Event.SUBMIT) not in LIFECYCLE  # never POST what was not approved
    assert (S.COMPLETED, Event.JOB_FAILED) not in LIFECYCLE
    assert (S.RUNNING, Event.SUBMIT) not in LIFECYCLE  # never POST twice
    assert {state for state, event in LIFECYCLE if event is Event.SUBMIT} == {S.APPROVED}  # one way in
    assert {move.to for (state, _), move in LIFECYCLE.items() if state is S.PENDING} == {
        S.APPROVED,
        S.REJECTED,
        S.CANCELLED,
        S.EXPIRED,
    }
    assert S.UNKNOWN in ACTIVE_STATES and S.EXPIRED in FINAL_STATES
    assert not {state for state, _ in LIFECYCLE} & FINAL_STATES  # nothing moves on from a final state


def test_every_move_to_a_final_state_tells_people_how_it_ended() -> None:
    for (_state, event), move in LIFECYCLE.items():
        if move.to in FINAL_STATES and event is not Event.CARD_NOT_POSTED:
            assert Notice.FINAL in move.notices and Notice.CARD in move.notices, event


# ---- policy -----------------------------------------------------------------------------------------------

POLICY = ApprovalPolicy(approver_user_ids=frozenset({"UBOB"}), approver_group_ids=frozenset({"SLEADS"}))


def test_approver_rules() -> None:
    pending = request()
    assert POLICY.can_approve(Actor("UBOB"), pending, NOW) is None
    assert POLICY.can_approve(Actor("UCAROL", group_ids=frozenset({"SLEADS"})), pending, NOW) is None
    assert POLICY.can_approve(Actor("UALICE"), pending, NOW).code == "self_approval"  # type: ignore[union-attr]
    assert POLICY.can_approve(Actor("UDAN"), pending, NOW).code == "not_approver"  # type: ignore[union-attr]
    refusal = POLICY.can_approve(Actor("UBOB", is_guest=True), pending, NOW)
    assert refusal is not None and refusal.message == "Guests can't approve restores."
    expired = POLICY.can_approve(Actor("UBOB"), pending, NOW + timedelta(hours=2))
    assert expired is not None and expired.message == "R-7F3A2B already expired."
    done = request(approvals=(Approval("UBOB", NOW),))
    assert POLICY.can_approve(Actor("UBOB"), done, NOW).code == "already_approved"  # type: ignore[union-attr]
    assert POLICY.can_approve(Actor("UBOB"), request(RequestState.RUNNING), NOW).code == "not_pending"  # type: ignore[union-attr]


def test_self_approval_can_be_allowed_and_message_names_approvers() -> None:
    lenient = ApprovalPolicy(approver_user_ids=frozenset({"UALICE"}), allow_self_approval=True)
    assert lenient.can_approve(Actor("UALICE"), request(), NOW) is None
    refusal = POLICY.can_approve(Actor("UDAN"), request(), NOW)
    assert refusal is not None and refusal.message == "Only <@UBOB> or members of <!subteam^SLEADS> can approve."


def test_reject_cancel_and_request_rules() -> None:
    pending = request()
    assert POLICY.can_reject(Actor("UBOB"), pending, NOW) is None
    assert POLICY.can_reject(Actor("UALICE"), pending, NOW).code == "own_request"  # type: ignore[union-attr]
    assert POLICY.can_cancel(Actor("UALICE"), pending, NOW) is None
    assert POLICY.can_cancel(Actor("UBOB"), pending, NOW).code == "not_requester"  # type: ignore[union-attr]
    strict = ApprovalPolicy(
        allowed_channel_ids=frozenset({"COPS"}), requester_group_ids=frozenset({"SDBA"}), approver_user_ids=frozenset()
    )
    assert strict.can_request(Actor("U1", group_ids=frozenset({"SDBA"})), "COPS") is None
    assert strict.can_request(Actor("U1", group_ids=frozenset({"SDBA"})), "CELSE").code == "channel_not_allowed"  # type: ignore[union-attr]
    assert strict.can_request(Actor("U1"), "COPS").code == "not_requester"  # type: ignore[union-attr]
    assert strict.can_request(Actor("U1", is_guest=True), "COPS").code == "guest"  # type: ignore[union-attr]


# ---- time ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1747732352076", 1_747_732_352_076),
        ("2025-05-20T09:12:32.076Z", 1_747_732_352_076),
        ("2025-05-20T17:12:32.076+08:00", 1_747_732_352_076),
        ("2025-05-20T17:12:32.076+0800", 1_747_732_352_076),
        ("2025-05-20T09:12:32Z", 1_747_732_352_000),
        ("2025-05-20 09:12:32.5+00:00", 1_747_732_352_500),
        ("latest", None),
        (" LATEST ", None),
    ],
)
def test_restore_point_forms(text: str, expected: int | None) -> None:
    assert parse_restore_point(text).epoch_ms == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-05-20T09:12:32", "has no time zone"),
        ("1747732352", "looks like epoch seconds"),
        ("17477323520", "is not epoch milliseconds"),
        ("2025-05-20T09:12:32.0761Z", "to the millisecond at most"),
        ("yesterday+01:00", "is not a time I can read"),
        ("", "Enter a restore point"),
    ],
)
def test_restore_point_errors_are_specific(text: str, message: str) -> None:
    with pytest.raises(TimeInputError, match=message):
        parse_restore_point(text)


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59.999Z", "3000-01-01T00:00:00Z"],
)
def test_restore_points_outside_the_range_name_it(text: str) -> None:
    with pytest.raises(TimeInputError, match=r"outside the times I accept \(2000-01-01 to 2999-12-31 UTC\)"):
        parse_restore_point(text)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "-1e400", "1e400", "١٧٤٧٧٣٢٣٥٢٠٧٦", "NaN+08:00"])
def test_restore_point_nonsense_is_unreadable_not_a_missing_zone(text: str) -> None:
    with pytest.raises(TimeInputError, match="is not a time I can read"):
        parse_restore_point(text)


def test_restore_point_range_edges_and_offsets_with_seconds() -> None:
    assert parse_restore_point("2000-01-01T00:00:00Z").epoch_ms == 946_684_800_000
    assert parse_restore_point("2999-12-31T23:59:59.999Z").epoch_ms == 32_503_679_999_999
    assert parse_restore_point("2025-05-20T09:12:33+00:00:01").epoch_ms == 1_747_732_352_000


@pytest.mark.parametrize(
    ("picked", "message"),
    [
        (float("inf"), "outside the times I accept (2000-01-01 to 2999-12-31 UTC)"),
        (float("-inf"), "outside the times I accept"),
        (10**400, "outside the times I accept"),
        (-1, "outside the times I accept"),
        (32_503_680_000, "outside the times I accept"),
        (float("nan"), "can't read"),
        ("1e400", "can't read"),
        ("soon", "can't read"),
        (True, "can't read"),
        (None, "can't read"),
        ([1], "can't read"),
    ],
)
def test_picker_values_that_are_no_restore_point(picked: object, message: str) -> None:
    with pytest.raises(TimeInputError, match=re.escape(message)):
        picker_epoch_ms(picked)


def test_picker_values_that_are() -> None:
    assert picker_epoch_ms(1_747_732_352) == 1_747_732_352_000
    assert picker_epoch_ms("1747732352") == 1_747_732_352_000
    assert picker_epoch_ms(1_747_732_352.9) == 1_747_732_352_000


def test_time_texts_and_windows() -> None:
    assert utc_text(1_747_732_352_076) == "2025-05-20 09:12:32.076 UTC"
    assert iso_utc(1_747_732_352_076) == "2025-05-20T09:12:32.076Z"
    window = Window(1_747_700_000_000, 1_747_732_352_076)
    assert check_in_windows(1_747_732_352_076, [window]) is None
    problem = check_in_windows(1_747_732_352_077, [window])
    assert problem == (
        "2025-05-20 09:12:32.077 UTC is outside the restorable window (2025-05-20 00:13:20 UTC → 2025-05-20 09:12:32 UTC)."
    )
    assert "no restorable time window" in (check_in_windows(1, []) or "")


# ---- mapping ------------------------------------------------------------------------------------------------


def test_suggestion_uses_each_target_once_and_matches_suffixes() -> None:
    candidates = {
        "s0": [Candidate("t1", "restore-rds-1", True), Candidate("t0", "restore-rds-0", True)],
        "s1": [Candidate("t1", "restore-rds-1", True), Candidate("t0", "restore-rds-0", True)],
        "s2": [Candidate("t1", "restore-rds-1", True), Candidate("tx", "small", False, "disk too small")],
    }
    names = {"s0": "orders-rds-0", "s1": "orders-rds-1", "s2": "orders-rds-2"}
    assert suggest_mapping(["s0", "s1", "s2"], names, candidates) == {"s0": "t0", "s1": "t1", "s2": None}
    assert suggest_mapping(["s0", "s1"], names, candidates, {"s0": "t1"}) == {"s0": "t1", "s1": "t0"}
    problems = mapping_problems(["s0", "s1", "s2"], {"s0": "t0", "s1": "t0", "s2": "tx"}, candidates, names)
    assert problems == {
        "s1": "restore-rds-0 is already the target of orders-rds-0; use each target data node once.",
        "s2": "small can't be used: disk too small.",
    }
    assert mapping_problems(["s0"], {}, candidates, names) == {"s0": "Choose a target data node for orders-rds-0."}


def test_request_ids() -> None:
    rid = new_request_id()
    assert normalise_request_id(rid) == rid
    assert normalise_request_id(rid.lower().removeprefix("r-")) == rid
    assert normalise_request_id("R-12") is None


# ---- command text -----------------------------------------------------------------------------------------


def test_command_text() -> None:
    assert parse_command("") == OpenForm()
    assert parse_command("help") == ShowHelp()
    assert parse_command("list") == ListRequests()
    assert parse_command("status R-7F3A2B") == ShowStatus("R-7F3A2B")
    assert parse_command("orders-prod at 2026-11-27T09:12:32+08:00 to orders-restore-1 map a=b c=d") == OpenForm(
        source="orders-prod",
        time_text="2026-11-27T09:12:32+08:00",
        target="orders-restore-1",
        mapping={"a": "b", "c": "d"},
    )
    assert parse_command("orders-prod at latest to x") == OpenForm(source="orders-prod", time_text="latest", target="x")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate", "I don't know “frobnicate”"),
        ("status", "`status` needs exactly one"),
        ("list all", "`list` takes no arguments"),
        ("orders-prod at 2026-11-27T09:12 to x", "Restore time: “2026-11-27T09:12” has no time zone"),
        ("orders-prod at latest", "is missing `to <target>`"),
        ("a at latest to b map x", "Mapping “x” should look like"),
        ("a at latest to b map x=1 y=1", "Target data node 1 is used twice"),
    ],
)
def test_command_text_problems_are_named(text: str, problem: str) -> None:
    result = parse_command(text)
    assert isinstance(result, ShowHelp) and result.problem is not None and problem in result.problem


def test_comma_fraction_is_held_to_milliseconds_too() -> None:
    assert parse_restore_point("2025-05-20T09:12:32,076Z").epoch_ms == 1_747_732_352_076
    with pytest.raises(TimeInputError, match="to the millisecond at most"):
        parse_restore_point("2025-05-20T09:12:32,0761+08:00")


def test_oversized_prefill_is_refused_with_a_reason() -> None:
    pairs = " ".join(f"s{i}=t{i}" for i in range(40))
    result = parse_command(f"orders-prod at latest to x map {pairs}")
    assert isinstance(result, ShowHelp) and result.problem == "`map` takes at most 32 pairs (got 40)."


def test_readme_lifecycle_diagram_is_generated_from_the_table() -> None:
    from pathlib import Path

    from bot.restore.lifecycle import mermaid_diagram

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    begin, end = readme.index("<!-- lifecycle:begin"), readme.index("<!-- lifecycle:end -->")
    block = readme[begin:end]
    shown = block[block.index("```mermaid\n") + len("```mermaid\n") : block.rindex("```")].rstrip("\n")
    assert shown == mermaid_diagram(), "README's lifecycle is stale: paste `python -m bot.restore.lifecycle`"


def test_short_ids_differ_where_ids_do_and_keep_at_least_eight_characters() -> None:
    alike = ["e0a1b2c3d4e54f6a8b9c0d1e2f3a4b50in01", "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b51in01"]
    other = "f4e2949e9b9b4d60b42c89ed39bfe34cin01"
    shown = short_ids([*alike, other, other])
    assert shown == {alike[0]: "e0a1b2c3…0in01", alike[1]: "e0a1b2c3…1in01", other: "f4e2949e…in01"}
    assert short_ids(["f4e2949e9b9b4d60b42c89ed39bfe34cin01", "f4e2949e9bffffffffffffffffffffffin01"]) == {
        "f4e2949e9b9b4d60b42c89ed39bfe34cin01": "f4e2949e…cin01",
        "f4e2949e9bffffffffffffffffffffffin01": "f4e2949e…fin01",
    }
    same_end = ["aaaa1111bbbb2222cccc3333dddd4444in09", "aaaa1111bbbb9999cccc3333dddd4444in09"]
    assert short_ids(same_end) == {same_end[0]: "aaaa1111bbbb2…in09", same_end[1]: "aaaa1111bbbb9…in09"}
    assert short_id("2f0324a93859487eb5566d75951fcd2din09") == "2f0324a9…in09"
    assert short_id("abc") == "abc" and short_id("0123456789abc") == "0123456789abc"  # nothing to gain
    assert short_ids([]) == {}
    # any two different ids read differently, whatever the set
    ids = [f"{n:018x}{n * 7919 % 4096:018x}" for n in range(0, 3000, 11)] + alike + same_end
    shown = short_ids(ids)
    assert len(set(shown.values())) == len(set(ids)) and all(len(s) >= 8 for s in shown.values())


def test_progress_milestones_are_told_once_each_and_never_backwards() -> None:
    assert [milestone_reached(None, p) for p in (0, 24, 25, 99)] == [None, None, 25, 75]
    assert milestone_reached(10, 80) == 75  # a jump is told once, at its highest milestone
    assert milestone_reached(25, 49) is None and milestone_reached(49, 50) == 50
    assert milestone_reached(80, 40) is None and milestone_reached(75, 100) is None
    S = RequestState
    assert LIFECYCLE[(S.RUNNING, Event.PROGRESS)].to is S.RUNNING
    assert Notice.PROGRESS in LIFECYCLE[(S.RUNNING, Event.PROGRESS)].notices
    assert {state for state, event in LIFECYCLE if event is Event.PROGRESS} == {S.RUNNING}
