"""The Slack layer's text: one escape for DDM's and people's strings, the thread notices, and Slack's limits
checked before Slack sees a view."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from bot.restore.checks import check_choice
from bot.restore.facts import Instance, TargetCandidate
from bot.restore.mapping import Candidate, mapping_problems
from bot.restore.notices import Notice
from bot.restore.plan import DataNodeMapping, NamedRef
from bot.restore.request import Approval, RequestState
from bot.restore.timeparse import Window
from bot.slack.blocks import (
    NO_SOURCE_VALUE,
    FormOutOfDate,
    FormTooLarge,
    SourceHint,
    SourceNodeRow,
    Step1Meta,
    Step2Meta,
    card_fallback_text,
    escape,
    options,
    plain,
    render_notice,
    request_card,
    status_text,
    step1_view,
    step2_view,
)
from bot.slack.blocks.escaping import guard
from tests.support.card_request import NOW, PLAN, make_request

EVIL = "<!channel> <https://evil|click> <@UEVIL>"
EVIL_SHOWN = "&lt;!channel&gt; &lt;https://evil|click&gt; &lt;@UEVIL&gt;"


def _raw_markup(text: str) -> list[str]:
    """The Slack markup in `text` that would notify, link or mention."""
    return [needle for needle in ("<!channel>", "<https://evil", "<@UEVIL>") if needle in text]


# ---- escape and plain -------------------------------------------------------------------------------------


def test_escape_makes_markup_text_and_keeps_one_line() -> None:
    assert escape(EVIL) == EVIL_SHOWN
    assert escape("a & b") == "a &amp; b"
    assert escape("INC-1\n*Target* orders\t> quote") == "INC-1 *Target* orders &gt; quote"
    assert escape("closes `the code` span") == "closes 'the code' span"


def test_escape_clips_without_cutting_an_entity() -> None:
    text = "<" * 100
    for limit in range(2, 30):
        out = escape(text, limit)
        assert len(out) <= limit and out.endswith("…")
        assert out[:-1].replace("&lt;", "") == ""  # only whole entities


def test_guard_keeps_our_mentions_and_neutralises_the_rest() -> None:
    text = "Only <@UBOB> or members of <!subteam^SLEADS> in <#COPS>; <!date^1^{time}|01:00>"
    assert guard(text) == text
    evil = "<!channel> <https://evil|click> <!here>"
    assert guard(f"orders {evil} is busy") == "orders &lt;!channel&gt; &lt;https://evil|click&gt; &lt;!here&gt; is busy"
    assert guard(guard(f"x {EVIL}")) == guard(f"x {EVIL}")


def test_plain_text_is_not_entity_escaped() -> None:
    assert plain("orders <prod> & co", 75) == "orders <prod> & co"
    assert plain("x" * 100, 75) == "x" * 74 + "…"


# ---- DDM's and people's strings on the card and in the thread ----------------------------------------------


def _evil_request(state: RequestState, **changes: Any) -> Any:
    plan = PLAN.model_copy(
        update={
            "source": NamedRef(id=PLAN.source.id, name=f"orders {EVIL}"),
            "target": NamedRef(id=PLAN.target.id, name=f"restore {EVIL}"),
            "mappings": (
                DataNodeMapping(
                    source=NamedRef(id=PLAN.mappings[0].source.id, name=f"rds {EVIL}"),
                    target=NamedRef(id=PLAN.mappings[0].target.id, name=f"rds2 {EVIL}"),
                ),
            ),
            "reason": f"INC-1\n*Target* x {EVIL}",
        }
    )
    return make_request(state, plan=plan, fingerprint=plan.fingerprint(), **changes)


@pytest.mark.parametrize("state", [RequestState.PENDING, RequestState.FAILED, RequestState.REJECTED])
def test_card_shows_ddm_and_people_text_escaped(state: RequestState) -> None:
    request = _evil_request(
        state,
        error_code="DBS.1 <!here>",
        error_msg=f"boom {EVIL}",
        decided_by="UBOB",
        decision_note=f"no {EVIL}",
    )
    text = json.dumps([b.to_dict() for b in request_card(request, approvers="x")], ensure_ascii=False)
    assert _raw_markup(text) == [] and "<!here>" not in text
    assert f"orders {EVIL_SHOWN}" in text and f"restore {EVIL_SHOWN}" in text
    assert "INC-1 *Target* x" in text  # one line: no forged card line
    if state is RequestState.FAILED:
        assert f"said “boom {EVIL_SHOWN}”" in text and "failed DBS.1 &lt;!here&gt;" in text
    if state is RequestState.REJECTED:
        assert f'rejected by <@UBOB>: \\"no {EVIL_SHOWN}\\"' in text  # JSON-quoted
    assert _raw_markup(card_fallback_text(request)) == []


def test_thread_texts_show_ddm_text_escaped() -> None:
    failed = _evil_request(
        RequestState.FAILED,
        job_id="job1",
        error_msg=f"restore failed {EVIL}",
        approvals=(Approval("UCAROL", NOW),),
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(seconds=45),
    )
    final = render_notice(failed, Notice.FINAL, {})
    assert _raw_markup(final) == []
    assert f"failed in 45s: restore failed {EVIL_SHOWN}." in final
    assert "<@UALICE> <@UCAROL>" in final  # our own mentions still work
    trouble = render_notice(failed, Notice.FOLLOW_TROUBLE, {"problem": f"HTTP.502 {EVIL}"})
    assert _raw_markup(trouble) == [] and f"restore {EVIL_SHOWN}" in trouble
    assert _raw_markup(status_text(failed)) == []


# ---- every notice -----------------------------------------------------------------------------------------


def test_notice_approval() -> None:
    request = make_request(RequestState.PENDING)
    text = render_notice(request, Notice.APPROVAL, {"user_id": "UBOB", "count": 1, "required": 2})
    assert text == "<@UBOB> approved (1/2)."


def test_notice_submitting() -> None:
    text = render_notice(make_request(RequestState.APPROVED), Notice.SUBMITTING, {})
    assert text == "Approved. Checking the plan against DDM once more, then submitting the restore of R-7F3A2B…"


def test_notice_submitted() -> None:
    request = make_request(RequestState.RUNNING, job_id="09902ee7866649b8908ec209bfee2747")
    text = render_notice(request, Notice.SUBMITTED, {"region": "cn-north-4"})
    assert text == "Restore job `09902ee7866649b8908ec209bfee2747` submitted to DDM (cn-north-4)."
    assert render_notice(request, Notice.SUBMITTED, {"region": None}).endswith("submitted to DDM.")


def test_notice_outcome_unknown_and_reconciled() -> None:
    unknown = render_notice(make_request(RequestState.UNKNOWN), Notice.OUTCOME_UNKNOWN, {})
    assert "may or may not be running" in unknown and "I will not send it again" in unknown
    found = render_notice(make_request(RequestState.RUNNING, job_id="j1"), Notice.RECONCILED, {})
    assert found == "Found it: restore job `j1` is in DDM's job list. Following it."


def test_the_verification_s_words() -> None:
    done = dict(
        job_id="j1",
        approvals=(Approval("UBOB", NOW),),
        submitted_at=NOW,
        job_started_at=NOW,
        finished_at=NOW + timedelta(minutes=1),
    )
    verifying = make_request(RequestState.VERIFYING, **done)
    said, figures = render_notice(verifying, Notice.JOB_DONE, {}).split("\n")
    assert said == (
        "✅ Restore completed in 1m00s. <@UALICE> <@UBOB> — orders-restore-1 `bbbb1111…in09` now holds "
        "orders-prod `aaaa1111…in09` as of 2026-11-27 04:05:52.500 UTC. Verifying it now: DDM's view of the "
        "target, then its checks."
    )
    assert figures.startswith("⏱ Time to restore ") and " · job 1m00s" in figures  # the job completed: it counts
    trouble = render_notice(verifying, Notice.VERIFY_TROUBLE, {"problem": "DDM <!here>", "until_ms": 1_795_752_352_500})
    assert trouble.startswith("⚠️ I can't verify orders-restore-1 `bbbb1111…in09` yet: DDM &lt;!here&gt;.")
    assert "I keep trying until <!date^1795752352^" in trouble and trouble.endswith("the result follows here.")

    verdict = {"status": "RUNNING", "address": "10.0.0.5:5066", "nodes": 2, "nodes_as_planned": 2}
    verified = make_request(RequestState.VERIFIED, **done)
    assert render_notice(verified, Notice.FINAL, verdict | {"checks": 1, "checks_passed": 1}) == (
        "✅ Verified: orders-restore-1 is RUNNING at 10.0.0.5:5066 · 2/2 data nodes as planned · 1/1 checks passed"
    )
    assert render_notice(verified, Notice.FINAL, verdict | {"checks": 0, "checks_passed": 0}).endswith(
        " · 2/2 data nodes as planned · no SQL checks set up"
    )
    assert render_notice(verified, Notice.TARGET_ADDRESS, verdict) == (
        "R-7F3A2B: orders-restore-1 `bbbb1111…in09` is restored and verified; connect at `10.0.0.5:5066` "
        "(MySQL protocol)."
    )

    failed = make_request(RequestState.VERIFY_FAILED, error_msg="stored text", **done)
    problems = {"problems": "orders restored: got 0, expected >= 1; <@U1> *x*"}
    assert render_notice(failed, Notice.FINAL, verdict | problems) == (
        "⚠️ Verification failed: orders restored: got 0, expected &gt;= 1; &lt;@U1&gt; *x*. <@UALICE> <@UBOB>"
    )
    assert render_notice(failed, Notice.FINAL, {}) == "⚠️ Verification failed: stored text. <@UALICE> <@UBOB>"
    assert render_notice(failed, Notice.TARGET_ADDRESS, {}) == (
        "R-7F3A2B: orders-restore-1 `bbbb1111…in09` is restored but its verification failed (see the thread); DDM "
        "shows no address for it."
    )


def test_notice_follow_trouble() -> None:
    running = make_request(RequestState.RUNNING, job_id="j1")
    text = render_notice(running, Notice.FOLLOW_TROUBLE, {"problem": "HTTP.502"})
    assert text.startswith("⚠️ I can't read job `j1` from DDM right now (HTTP.502).")
    assert "orders-restore-1" in text and "stays reserved for R-7F3A2B" in text
    no_job = render_notice(make_request(RequestState.UNKNOWN), Notice.FOLLOW_TROUBLE, {"problem": "x"})
    assert "I can't read DDM's job list" in no_job


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            dict(
                state=RequestState.COMPLETED,
                job_id="j1",
                approvals=(Approval("UBOB", NOW),),
                submitted_at=NOW,
                job_started_at=NOW,
                finished_at=NOW + timedelta(minutes=3, seconds=12),
            ),
            "✅ Restore completed in 3m12s. <@UALICE> <@UBOB> — orders-restore-1 `bbbb1111…in09` now holds "
            "orders-prod `aaaa1111…in09` as of 2026-11-27 04:05:52.500 UTC.",
        ),
        (
            dict(state=RequestState.REJECTED, decided_by="UBOB", decision_note="wrong target"),
            '<@UBOB> rejected R-7F3A2B: "wrong target". Nothing was restored.',
        ),
        (
            dict(state=RequestState.CANCELLED, decided_by="UALICE"),
            "<@UALICE> cancelled R-7F3A2B. Nothing was restored.",
        ),
        (dict(state=RequestState.EXPIRED), "R-7F3A2B expired without the required approvals (0/2)."),
        (
            dict(state=RequestState.FAILED, error_code="PLAN_STALE", error_msg="the target is busy."),
            "🔴 Not submitted: the target is busy. Nothing was restored.",
        ),
        (
            dict(state=RequestState.FAILED, error_code="NOT_SENT", error_msg="timeout"),
            "🔴 DDM could not be reached, so the restore was not sent: timeout.",
        ),
        (dict(state=RequestState.FAILED, error_code="NO_JOB", error_msg=""), "🔴 No restore job for this target"),
        (
            dict(state=RequestState.FAILED, error_code="DBS.300372", error_msg="Invalid destination DDM instance."),
            "🔴 DDM refused the restore: `DBS.300372` Invalid destination DDM instance. Nothing was restored. "
            "The target DDM instance can't take this restore",
        ),
    ],
)
def test_notice_final(changes: dict[str, Any], expected: str) -> None:
    state = changes.pop("state")
    assert render_notice(make_request(state, **changes), Notice.FINAL, {}).startswith(expected)


def test_notice_card_not_posted_keeps_our_markup() -> None:
    reason = "Invite me to <#COPS> first: `/invite @ddm-restore`, then try again."
    text = render_notice(make_request(RequestState.CANCELLED), Notice.CARD_NOT_POSTED, {"reason": reason})
    assert text == f"Your restore request R-7F3A2B was not created: I could not post the request card: {reason}"


def test_the_card_notice_is_not_a_thread_message() -> None:
    with pytest.raises(ValueError, match="not a thread message"):
        render_notice(make_request(RequestState.PENDING), Notice.CARD, {})


# ---- Slack's limits, checked before Slack sees them -------------------------------------------------------


def test_options_stay_within_slacks_limits() -> None:
    items = [(f"instance-{i} " + "x" * 100, f"id-{i}") for i in range(150)] + [("too long", "v" * 151)]
    shown = [o.to_dict() for o in options(items)]
    assert len(shown) == 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in shown)
    assert shown[-1]["value"] == NO_SOURCE_VALUE and shown[-1]["text"]["text"].startswith("…51 more")
    assert "v" * 151 not in json.dumps(shown)
    assert len(options(items[:100])) == 100 and options(items[:100])[-1].value == "id-99"


def test_step1_metadata_over_3000_characters_is_refused_with_a_reason() -> None:
    meta = Step1Meta(channel_id="COPS", preferred_map={f"source-{i}-" + "s" * 60: "t" * 90 for i in range(32)})
    with pytest.raises(FormTooLarge, match="`map` list is too long"):
        step1_view(meta)


def test_unavailable_targets_from_ddm_are_escaped_in_step1() -> None:
    hint = SourceHint(windows=(), unavailable_targets=[(f"t {EVIL}", f"busy {EVIL}")] * 12, error=None)
    text = json.dumps(step1_view(Step1Meta(channel_id="C"), hint=hint).to_dict(), ensure_ascii=False)
    assert _raw_markup(text) == [] and "…and 2 more" in text


def _rows(count: int, *, unusable: bool) -> list[SourceNodeRow]:
    extra = [Candidate("bad", f"small {EVIL}", False, f"Storage {EVIL}")] if unusable else []
    return [
        SourceNodeRow(
            id=f"{i:032d}in01",
            name=f"rds-{i} <b>",
            detail="MySQL 8.0, 100 GB",
            candidates=[Candidate(f"{i:032d}in02", f"target-{i}", True), *extra],
            suggested=f"{i:032d}in02",
        )
        for i in range(count)
    ]


def _meta(count: int) -> Step2Meta:
    return Step2Meta(
        channel_id="COPS",
        source=(PLAN.source.id, f"orders {EVIL}"),
        target=(PLAN.target.id, "t"),
        restore_time_ms=PLAN.restore_time_ms,
        source_nodes={f"{i:032d}in01": f"rds-{i}" for i in range(count)},
    )


def test_step2_labels_are_plain_and_notes_escaped() -> None:
    view = step2_view(_meta(2), _rows(2, unusable=True), external_id="x").to_dict()
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels[0].startswith("rds-0 <b> (")  # plain_text: shown literally, no entities
    view.pop("private_metadata")  # carried, never shown
    assert _raw_markup(json.dumps(view, ensure_ascii=False)) == []


def test_step2_with_many_data_nodes_fits_in_100_blocks_or_says_why() -> None:
    view = step2_view(_meta(50), _rows(50, unusable=True), external_id="x").to_dict()
    assert len(view["blocks"]) <= 100  # the per-row notes merged into one
    assert sum(b["type"] == "input" for b in view["blocks"]) == 51
    with pytest.raises(FormTooLarge, match="at most 96"):
        step2_view(_meta(40), _rows(120, unusable=False), external_id="x")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        '{"c":"C"}',
        '{"c":"C","s":["a"],"t":["b","c"],"ms":1,"n":{"x":"y"}}',
        '{"c":"C","s":["a","b"],"t":["b","c"],"ms":"1","n":{"x":"y"}}',
        '{"c":"C","s":["a","b"],"t":["b","c"],"ms":1,"n":[]}',
        '{"c":"C","s":["a","b"],"t":["b","c"],"ms":1,"n":{"x":"y"}}',  # a time no form of ours carries
        '{"c":"C","s":["a","b"],"t":["b","c"],"ms":100000000000000000000,"n":{"x":"y"}}',
        '{"c":"C","s":["a","b"],"t":["b","c"],"ms":1e400,"n":{"x":"y"}}',
    ],
)
def test_unreadable_step2_metadata_is_out_of_date(raw: str) -> None:
    with pytest.raises(FormOutOfDate):
        Step2Meta.load(raw)


def test_reasons_from_ddm_join_without_doubled_punctuation() -> None:
    """DDM's reasons end in a full stop; ours follow them: never "(100 GB).," or "..", wherever they are joined."""
    small = "The storage is smaller than the source's (100 GB)."
    row = SourceNodeRow(
        id="s" * 32 + "in01",
        name="orders-rds-0",
        detail="MySQL 8.0, 100 GB",
        candidates=[
            Candidate("a" * 32 + "in01", "restore-rds-3", False, small),
            Candidate("b" * 32 + "in01", "restore-rds-4", False, "Busy.  "),
            Candidate("c" * 32 + "in01", "restore-rds-5", True),
        ],
        suggested="c" * 32 + "in01",
    )
    step2 = json.dumps(step2_view(_meta(1), [row], external_id="x").to_dict(), ensure_ascii=False)
    assert "(100 GB), restore-rds-4: Busy" in step2
    hint = SourceHint(windows=(), unavailable_targets=[("orders-restore-2", "The instance is busy.")])
    step1 = json.dumps(step1_view(Step1Meta(channel_id="C"), hint=hint).to_dict(), ensure_ascii=False)
    assert "orders-restore-2: The instance is busy" in step1 and "busy.\\n" not in step1 and 'busy."' not in step1
    source = Instance("src", "orders-prod")
    problems = check_choice(
        source=source,
        target_id="t",
        target_label="t",
        restore_time_ms=PLAN.restore_time_ms,
        windows=[Window(PLAN.restore_time_ms - 1, PLAN.restore_time_ms + 1)],
        targets=[TargetCandidate("t", "orders-restore-2", False, "The instance is busy.")],
    )
    assert [p.message for p in problems] == ["orders-restore-2 can't be used: The instance is busy."]
    candidates = {"s0": [Candidate("t0", "restore-rds-0", False, small)]}
    assert mapping_problems(["s0"], {"s0": "t0"}, candidates, {}) == {
        "s0": "restore-rds-0 can't be used: The storage is smaller than the source's (100 GB)."
    }
    failed = make_request(RequestState.FAILED, job_id="j1", error_code="JOB_FAILED", error_msg="Disk full.")
    card = json.dumps([b.to_dict() for b in request_card(failed, approvers="x")], ensure_ascii=False)
    assert "DDM said: “Disk full”." in card and "Disk full.”" not in card
    assert "full.." not in render_notice(failed, Notice.FINAL, {})


# ---- ids that tell alike data nodes apart -------------------------------------------------------------------

NODE_A = "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b50in01"
NODE_B = "e0a1b2c3d4e54f6a8b9c0d1e2f3a4b51in01"


def _swapped_plans() -> tuple[Any, Any]:
    """Two plans whose target data nodes have one name and ids that differ only near their end, swapped."""
    sources = [NamedRef(id=f"{d * 32}in01", name=f"orders-rds-{i}") for i, d in enumerate("fa")]
    first = PLAN.model_copy(
        update={
            "mappings": (
                DataNodeMapping(source=sources[0], target=NamedRef(id=NODE_A, name="restore-rds")),
                DataNodeMapping(source=sources[1], target=NamedRef(id=NODE_B, name="restore-rds")),
            )
        }
    )
    second = first.model_copy(
        update={
            "mappings": (
                DataNodeMapping(source=sources[0], target=NamedRef(id=NODE_B, name="restore-rds")),
                DataNodeMapping(source=sources[1], target=NamedRef(id=NODE_A, name="restore-rds")),
            )
        }
    )
    return first, second


def _card_parts(request: Any) -> tuple[str, str]:
    blocks = {b["block_id"]: b for b in (block.to_dict() for block in request_card(request, approvers="x"))}
    confirm = blocks["card_actions"]["elements"][0]["confirm"]["text"]["text"]
    return blocks["card_nodes"]["text"]["text"], confirm


def test_alike_data_nodes_read_differently_on_card_confirm_status_and_thread() -> None:
    first, second = (make_request(RequestState.PENDING, plan=p, fingerprint=p.fingerprint()) for p in _swapped_plans())
    (nodes_1, confirm_1), (nodes_2, confirm_2) = _card_parts(first), _card_parts(second)
    assert nodes_1 != nodes_2 and confirm_1 != confirm_2
    # they differ only near their end: the end grows until it tells them apart
    assert "orders-rds-0 `ffffffff…in01` → restore-rds `e0a1b2c3…0in01`" in nodes_1
    assert "orders-rds-1 `aaaaaaaa…in01` → restore-rds `e0a1b2c3…1in01`" in nodes_1
    assert "orders-rds-0 `ffffffff…in01` → restore-rds `e0a1b2c3…0in01`" in confirm_1 and len(confirm_1) <= 300
    assert status_text(first) != status_text(second) and "`e0a1b2c3…0in01`" in status_text(first)
    # the thread names the target instance with its id (two instances may share a name too)
    done = dataclasses.replace(first, state=RequestState.COMPLETED, job_id="j1")
    assert "orders-restore-1 `bbbb1111…in09` now holds orders-prod `aaaa1111…in09`" in render_notice(
        done, Notice.FINAL, {}
    )


def test_the_confirm_dialog_stays_within_300_characters_with_many_data_nodes() -> None:
    many = tuple(
        DataNodeMapping(
            source=NamedRef(id=f"{i:032x}in01", name="n" * 60), target=NamedRef(id=f"{i + 99:032x}in01", name="t" * 60)
        )
        for i in range(8)
    )
    plan = PLAN.model_copy(update={"mappings": many, "target": NamedRef(id=PLAN.target.id, name="x" * 200)})
    _, confirm = _card_parts(make_request(RequestState.PENDING, plan=plan, fingerprint=plan.fingerprint()))
    assert len(confirm) <= 300 and "8 pairs, as on the card" in confirm and "bbbb1111…in09" in confirm


@pytest.mark.parametrize(
    ("state", "changes", "says"),
    [
        (RequestState.COMPLETED, {"job_id": "j1"}, "All data on orders-restore-1 was overwritten by this restore"),
        (RequestState.VERIFYING, {"job_id": "j1"}, "overwritten by this restore.* Verifying it now…"),
        (RequestState.VERIFIED, {"job_id": "j1"}, "overwritten by this restore, and it checked out.*"),
        (
            RequestState.VERIFY_FAILED,
            {"job_id": "j1", "error_msg": "orders <b>: got 0, expected >= 1"},
            "but its verification failed:* orders &lt;b&gt;: got 0, expected &gt;= 1. Look at it before",
        ),
        (RequestState.REJECTED, {"decided_by": "UBOB"}, "Nothing was changed on orders-restore-1."),
        (RequestState.CANCELLED, {"decided_by": "UALICE"}, "Nothing was changed on orders-restore-1."),
        (RequestState.EXPIRED, {}, "Nothing was changed on orders-restore-1."),
        (
            RequestState.FAILED,
            {"job_id": "j1", "error_code": "JOB_FAILED", "error_msg": "disk full."},
            "The restore job failed, so orders-restore-1 may be partly overwritten.* DDM said: “disk full”.",
        ),
        (
            RequestState.FAILED,
            {"error_code": "DBS.300372", "error_msg": "Invalid destination."},
            "Nothing was changed on orders-restore-1*: DDM refused the restore and said “Invalid destination”.",
        ),
        (
            RequestState.FAILED,
            {"error_code": "PLAN_STALE", "error_msg": "the target is busy"},
            "Nothing was changed on orders-restore-1*: the restore was not sent (“the target is busy”).",
        ),
        (
            RequestState.FAILED,
            {"error_code": "NO_JOB", "error_msg": "no restore job appeared within 15m00s"},
            "most likely did not start (no restore job appeared within 15m00s). Check orders-restore-1",
        ),
    ],
)
def test_a_finished_card_says_what_happened_to_the_target(
    state: RequestState, changes: dict[str, Any], says: str
) -> None:
    blocks = {
        b["block_id"]: b
        for b in (block.to_dict() for block in request_card(make_request(state, **changes), approvers="x"))
    }
    line = blocks["card_warning"]["text"]["text"]
    assert says in line and "will be overwritten" not in line


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (RequestState.PENDING, "will be overwritten"),
        (RequestState.APPROVED, "will be overwritten"),
        (RequestState.RUNNING, "is being overwritten"),
        (RequestState.UNKNOWN, "may be being overwritten"),
    ],
)
def test_a_card_still_in_flight_warns(state: RequestState, says: str) -> None:
    blocks = {b["block_id"]: b for b in (block.to_dict() for block in request_card(make_request(state), approvers="x"))}
    assert says in blocks["card_warning"]["text"]["text"]


def test_notice_progress() -> None:
    running = make_request(RequestState.RUNNING, job_id="09902ee7866649b8908ec209bfee2747")
    text = render_notice(running, Notice.PROGRESS, {"percent": 50, "elapsed_s": 95})
    assert text == "⏳ Restore job `09902ee7866649b8908ec209bfee2747` is 50% done after 1m35s."
    assert render_notice(running, Notice.PROGRESS, {"percent": 25}).endswith("is 25% done.")
