"""`/ddm-restore history [days] [page]`: what it takes, and what one page says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.restore.flow import Flow, Stage
from bot.restore.request import Approval, RequestState
from bot.slack.blocks.history import history_line, history_text
from bot.slack.command_text import ShowHelp, ShowHistory, parse_command
from tests.support.domain_request import NOW, request

FLOW = Flow((Stage("DBA lead", frozenset({"UCAROL"})), Stage("Service owner", frozenset({"UDAN"}))), rule="old <rp>")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("history", ShowHistory(30, 1)),
        ("HISTORY 7", ShowHistory(7, 1)),
        ("history 7 2", ShowHistory(7, 2)),
        ("history 0", ShowHelp("`history` takes a number of days from 1 to 365 (got “0”).")),
        ("history 366", ShowHelp("`history` takes a number of days from 1 to 365 (got “366”).")),
        ("history week", ShowHelp("`history` takes a number of days from 1 to 365 (got “week”).")),
        ("history 7 0", ShowHelp("`history`'s page is a number from 1 (got “0”).")),
        ("history 7 <!here>", ShowHelp("`history`'s page is a number from 1 (got “&lt;!here&gt;”).")),
        ("history 7 2 3", ShowHelp("`history` takes a number of days and a page number (got “7 2 3”).")),
    ],
)
def test_history_takes_days_and_a_page(text: str, command: object) -> None:
    assert parse_command(text) == command


def test_a_line_says_who_asked_how_it_ended_who_approved_in_which_stage_and_how_long() -> None:
    done = request(
        RequestState.COMPLETED,
        flow=FLOW,
        required_approvals=2,
        approvals=(Approval("UCAROL", NOW, stage=1), Approval("UDAN", NOW, stage=2)),
        approved_at=NOW + timedelta(minutes=5),
        job_started_at=NOW + timedelta(minutes=5, seconds=4),
        finished_at=NOW + timedelta(minutes=8, seconds=16),
    )
    line = history_line(done)
    assert line.startswith("• `R-7F3A2B` <!date^1795770000^{date_short} {time}|2026-11-27 09:00 UTC> · ")
    assert line.split(" · ", 1)[1] == (
        "orders-prod → orders-restore-1 · by <@UALICE> in <#C1> · ✅ completed in 3m12s · approved by <@UCAROL> "
        "(DBA lead), <@UDAN> (Service owner) · rule *old &lt;rp&gt;* · to approval 5m00s · job 3m12s · took 8m16s"
    )
    rejected = request(RequestState.REJECTED, decided_by="UBOB", updated_at=NOW + timedelta(minutes=2))
    assert history_line(rejected).endswith("· ⛔ rejected by <@UBOB> · took 2m00s")
    pending = history_line(request())
    assert "🟡 awaiting approval (0/1)" in pending and "took" not in pending


def test_a_page_and_the_way_to_the_next() -> None:
    page = [request(), request(RequestState.EXPIRED)]
    text = history_text(page, total=12, days=7, page=1, per_page=10, where="*prod (cn-north-4)*").splitlines()
    assert text[0] == "*Restore requests in *prod (cn-north-4)*, the last 7 days*: 12, newest first · page 1 of 2"
    assert len(text) == 4 and text[-1] == "Next page: `/ddm-restore history 7 2`"
    last = history_text(page, total=12, days=7, page=2, per_page=10, where="here")
    assert "page 2 of 2" in last and "Next page" not in last
    assert history_text([], total=12, days=1, page=3, per_page=10, where="here") == (
        "Page 3 is past the last one (2) of the requests in here in the last day."
    )
    assert history_text([], total=0, days=30, page=1, per_page=10, where="here") == (
        "No restore requests in here in the last 30 days."
    )
