"""Staged approvals in the domain: stages run in order, a person counts in one stage only, the card's lines."""

from __future__ import annotations

from bot.restore.policy import Actor, ApprovalPolicy, Stage
from bot.restore.request import Approval
from tests.support.domain_request import NOW, request

STAGED = ApprovalPolicy(
    stages=(
        Stage("DBA lead", approver_group_ids=frozenset({"SLEADS"}), required=1),
        Stage("Service owner", approver_user_ids=frozenset({"UOWNER", "UBOTH"}), required=1),
    )
)
LEAD = Actor("UCAROL", group_ids=frozenset({"SLEADS"}))
BOTH = Actor("UBOTH", group_ids=frozenset({"SLEADS"}))


def test_stages_run_in_order_and_an_early_approver_is_told_whose_turn_it_is() -> None:
    pending = request(required_approvals=STAGED.total_required)
    assert STAGED.total_required == 2 and STAGED.current_stage(pending) == 1
    early = STAGED.can_approve(Actor("UOWNER"), pending, NOW)
    assert early is not None and early.code == "not_your_turn"
    assert early.message == "Stage 1 (DBA lead) comes first; you'll be mentioned when it's your turn."
    assert STAGED.can_approve(LEAD, pending, NOW) is None
    assert STAGED.can_approve(Actor("UDAN"), pending, NOW).code == "not_approver"  # type: ignore[union-attr]

    after_lead = request(required_approvals=2, approvals=(Approval("UCAROL", NOW, stage=1),))
    assert STAGED.current_stage(after_lead) == 2
    assert STAGED.can_approve(Actor("UOWNER"), after_lead, NOW) is None
    done = STAGED.can_approve(Actor("UERIN", group_ids=frozenset({"SLEADS"})), after_lead, NOW)
    assert done is not None and done.code == "stage_complete"
    assert STAGED.stage_header(after_lead) == "stage 2 of 2"
    assert STAGED.stage_lines(after_lead) == (
        "✅ DBA lead — <@UCAROL>   ⏳ Service owner — waiting for <@UBOTH> or <@UOWNER> (0/1)"
    )
    complete = request(
        required_approvals=2, approvals=(Approval("UCAROL", NOW, stage=1), Approval("UOWNER", NOW, stage=2))
    )
    assert STAGED.current_stage(complete) is None and STAGED.stage_header(complete) == ""


def test_a_person_counts_in_one_stage_only_and_guests_and_the_requester_never() -> None:
    after_both = request(required_approvals=2, approvals=(Approval("UBOTH", NOW, stage=1),))
    again = STAGED.can_approve(BOTH, after_both, NOW)
    assert again is not None and again.code == "already_approved"
    guest = Actor("UOWNER", is_guest=True)
    assert STAGED.can_approve(guest, request(), NOW).code == "guest"  # type: ignore[union-attr]
    requester = Actor("UALICE", group_ids=frozenset({"SLEADS"}))
    assert STAGED.can_approve(requester, request(), NOW).code == "self_approval"  # type: ignore[union-attr]


def test_without_named_stages_nothing_changes() -> None:
    single = ApprovalPolicy(approver_user_ids=frozenset({"UBOB"}), required_approvals=2)
    assert single.total_required == 2 and single.stage_header(request()) == "" and single.stage_lines(request()) == ""
    assert single.current_stage(request(required_approvals=2, approvals=(Approval("UBOB", NOW),))) == 1
    assert single.describe_approvers() == "<@UBOB>"
    assert STAGED.describe_approvers() == "<@UBOTH>, <@UOWNER> or members of <!subteam^SLEADS>"
