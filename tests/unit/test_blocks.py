"""Golden-JSON tests of the card and the modal. Regenerate after a deliberate change with
`UPDATE_GOLDEN=1 pytest tests/unit/test_blocks.py` and review the diff like code."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Option

from bot.restore.cron import parse_cron
from bot.restore.drills import Drill, DrillStatus
from bot.restore.flow import Flow, Stage
from bot.restore.mapping import Candidate
from bot.restore.request import Approval, RequestState
from bot.restore.timeparse import Window
from bot.slack.blocks import (
    SourceHint,
    SourceNodeRow,
    Step1Meta,
    Step2Meta,
    blank_step1_view,
    forms,
    loading_view,
    reject_view,
    request_card,
    step1_view,
    step2_view,
)
from bot.slack.blocks.drills import drill_line
from bot.slack.blocks.home import HomeLists, home_view
from bot.workflow.forms import FlowPreview
from tests.support.card_request import NOW, PLAN, make_request

GOLDEN = Path(__file__).parents[1] / "golden"


def check_golden(name: str, value: Any) -> None:
    path = GOLDEN / f"{name}.json"
    rendered = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 once and review it"
    assert rendered == path.read_text(encoding="utf-8"), f"{name} differs from {path}"


CARDS = {
    "card_pending": make_request(RequestState.PENDING, approvals=(Approval("UBOB", NOW),)),
    "card_running": make_request(
        RequestState.RUNNING,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=60,
        submitted_at=NOW,
    ),
    "card_completed": make_request(
        RequestState.COMPLETED,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=100,
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(minutes=3, seconds=12),
    ),
    "card_verifying": make_request(
        RequestState.VERIFYING,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=100,
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(minutes=3, seconds=12),
    ),
    "card_verified": make_request(
        RequestState.VERIFIED,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=100,
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(minutes=3, seconds=12),
    ),
    "card_verify_failed": make_request(
        RequestState.VERIFY_FAILED,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=100,
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(minutes=3, seconds=12),
        error_code="VERIFY_FAILED",
        error_msg="orders restored: got 0, expected >= 1",
    ),
    "card_failed": make_request(
        RequestState.FAILED,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        error_code="DBS.300372",
        error_msg="Invalid destination DDM instance.",
    ),
    "card_job_failed": make_request(
        RequestState.FAILED,
        approvals=(Approval("UBOB", NOW), Approval("UCAROL", NOW)),
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=40,
        submitted_at=NOW,
        finished_at=NOW + timedelta(minutes=2),
        error_code="JOB_FAILED",
        error_msg="Data node restore failed: disk full.",
    ),
    "card_cancelled": make_request(RequestState.CANCELLED, decided_by="UALICE"),
    "card_rejected": make_request(RequestState.REJECTED, decided_by="UBOB", decision_note="wrong target"),
    "card_expired": make_request(RequestState.EXPIRED),
    # A drill approved by the environments file (approval = "auto"): no approval rows, its requester the drill.
    "card_drill_verified": make_request(
        RequestState.VERIFIED,
        plan=PLAN.model_copy(update={"drill": "orders weekly", "environment": "prod", "reason": "drill orders weekly"}),
        requester_id="drill:orders weekly",
        approved_at=NOW,
        job_id="09902ee7866649b8908ec209bfee2747",
        job_progress=100,
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(minutes=3, seconds=12),
    ),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card(name: str) -> None:
    blocks = [b.to_dict() for b in request_card(CARDS[name], approvers="members of <!subteam^SLEADS>")]
    check_golden(name, blocks)
    has_buttons = any(b["type"] == "actions" for b in blocks)
    assert has_buttons == (CARDS[name].state is RequestState.PENDING)


def test_pending_card_essentials() -> None:
    text = json.dumps([b.to_dict() for b in request_card(CARDS["card_pending"], approvers="x")], ensure_ascii=False)
    assert "<!date^1795752352^" in text  # the restore point in each viewer's zone
    assert "2026-11-27 04:05:52.500 UTC · 1795752352500 ms" in text
    assert "will be overwritten" in text
    assert "awaiting approval (1/2)" in text
    assert PLAN.fingerprint()[:4] in text


def test_blank_step1_view_is_built_once_and_never_shared() -> None:
    """The form of a `/ddm-restore` without text is built once per channel; every caller gets its own copy."""
    built = 0
    real = forms.step1_view

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal built
        built += 1
        return real(*args, **kwargs)

    forms._blank_step1_json.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(forms, "step1_view", counting)
        first = blank_step1_view("COPS")
        check_golden("modal_step1_empty", first)  # what step1_view(Step1Meta("COPS")).to_dict() gives
        first["blocks"][0]["label"]["text"] = "changed by a caller"
        first["private_metadata"] = "{}"
        second = blank_step1_view("COPS")
        assert second == step1_view(Step1Meta(channel_id="COPS")).to_dict()
        assert second is not first and second["blocks"] is not first["blocks"]
        other = blank_step1_view("CDEV")
        assert Step1Meta.load(other["private_metadata"]).channel_id == "CDEV"
    assert built == 2  # once per channel, not per call


def test_modal_step1_empty_and_with_hint() -> None:
    meta = Step1Meta(channel_id="COPS")
    check_golden("modal_step1_empty", step1_view(meta).to_dict())
    hint = SourceHint(
        windows=[Window(1_795_100_000_000, 1_795_752_400_000)],
        unavailable_targets=[
            ("orders-restore-2", "The instance is being restored."),
            ("legacy-ddm", "Has data nodes."),
        ],
        user_tz="Asia/Shanghai",
    )
    view = step1_view(
        Step1Meta(channel_id="COPS", source_id=PLAN.source.id, user_tz="Asia/Shanghai"),
        source=Option(text="orders-prod (aaaa…in09)", value=PLAN.source.id),
        picker_seconds=1_795_752_360,
        hint=hint,
    )
    check_golden("modal_step1_hint", view.to_dict())


def test_modal_step2_and_small_views() -> None:
    meta = Step2Meta(
        channel_id="COPS",
        source=(PLAN.source.id, PLAN.source.name),
        target=(PLAN.target.id, PLAN.target.name),
        restore_time_ms=PLAN.restore_time_ms,
        source_nodes={m.source.id: m.source.name for m in PLAN.mappings},
    )
    rows = [
        SourceNodeRow(
            id=m.source.id,
            name=m.source.name,
            detail="MySQL 8.0, 100 GB",
            candidates=[
                Candidate(PLAN.mappings[0].target.id, "restore1-rds-0", True),
                Candidate(PLAN.mappings[1].target.id, "restore1-rds-1", True),
                Candidate("55555555555555555555555555555555in01", "restore1-small", False, "Storage too small."),
            ],
            suggested=m.target.id,
        )
        for m in PLAN.mappings
    ]
    flow = Flow(
        (
            Stage("DBA lead", approver_group_ids=frozenset({"SLEADS"})),
            Stage("Service <owner>", approver_user_ids=frozenset({"UOWNER"})),
        ),
        rule="old restore point",
    )
    view = step2_view(meta, rows, external_id="ddm-restore-x", approval=FlowPreview(flow=flow)).to_dict()
    check_golden("modal_step2", view)
    # Who will be asked, before the submit (the environments file's names escaped); or the rule's refusal.
    (line,) = [b["text"]["text"] for b in view["blocks"] if b.get("block_id") == "approval_flow"]
    assert line == (
        "*This request needs:* DBA lead (1 of <!subteam^SLEADS>), then Service &lt;owner&gt; (<@UOWNER>) — rule "
        "*old restore point*"
    )
    refused = step2_view(meta, rows, external_id="x", approval=FlowPreview(refused="Frozen at weekends.")).to_dict()
    assert [b["text"]["text"] for b in refused["blocks"] if b.get("block_id") == "approval_flow"] == [
        "⛔ *This request can't be made now:* Frozen at weekends."
    ]
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        f"dn_map:{PLAN.mappings[0].source.id}",
        f"dn_map:{PLAN.mappings[1].source.id}",
        "reason",
    ]
    assert len(view["private_metadata"]) < 3000
    check_golden("modal_reject", reject_view("R-7F3A2B").to_dict())
    check_golden("modal_loading", loading_view("ddm-restore-x").to_dict())


def test_home_with_drills() -> None:
    """Home's Drills section: a block per drill in the words of `/ddm-restore drills`, names from the file escaped;
    no section at all when their environments have no drills."""
    weekly = Drill(
        name="orders <weekly> & co",
        schedule="0 3 * * SUN",
        cron=parse_cron("0 3 * * SUN", "Asia/Shanghai"),
        source="orders-prod",
        targets=("orders-restore-1", "orders-restore-2"),
        approval="stages",
        environment="prod",
    )
    yearly = Drill(
        name="orders yearly", schedule="0 0 1 1 *", cron=parse_cron("0 0 1 1 *"), source="orders-prod", targets=("t",)
    )
    statuses = (
        DrillStatus(weekly, NOW + timedelta(days=2), "R-7F3A2B verified (2026-11-22 19:00 UTC)", NOW, 1),
        DrillStatus(yearly, None, "never ran", None, None),
    )
    pending = make_request(RequestState.PENDING)
    lists = HomeLists(waiting=[pending], mine=[pending], recent=[pending], drills=statuses)
    view = home_view(lists).to_dict()
    check_golden("home_drills", view)
    drills = [b for b in view["blocks"] if b.get("block_id", "").startswith("home_drill")]
    assert [b["block_id"] for b in drills] == ["home_drills_title", "home_drill:0", "home_drill:1"]
    assert drills[1]["text"]["text"] == drill_line(statuses[0])  # the command's own words
    assert "orders &lt;weekly&gt; &amp; co" in drills[1]["text"]["text"]
    assert "targets left unknown (DDM not asked yet) of 1" in drills[2]["text"]["text"]
    without = home_view(HomeLists(waiting=[], mine=[], recent=[])).to_dict()
    assert not [b for b in without["blocks"] if b.get("block_id", "").startswith("home_drill")]
