"""The pure rules of a restore's verification (bot.restore.verification): the expectation, the one-SELECT rule,
the mapping as DDM shows it, a check's number, and the verdict people read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.verification import (
    CheckResult,
    SchemaDataNodes,
    SqlCheck,
    TargetDetails,
    UsedDataNode,
    Verdict,
    as_number,
    compare_mapping,
    judge,
    not_ready,
    parse_expect,
    plain_select,
    select_problem,
)

PLAN = RestorePlan(
    project_id="p1",
    source=NamedRef(id="srcin09", name="orders-prod"),
    target=NamedRef(id="tgtin09", name="orders-restore-1"),
    restore_time_ms=1_795_000_000_000,
    mappings=(
        DataNodeMapping(source=NamedRef(id="s0in01", name="rds-0"), target=NamedRef(id="t0in01", name="restore-0")),
        DataNodeMapping(source=NamedRef(id="s1in01", name="rds-1"), target=NamedRef(id="t1in01", name="restore-1")),
    ),
)
CHECK = SqlCheck("orders restored", "shop", "SELECT COUNT(*) FROM orders", parse_expect(">= 1"))


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        (">= 1", 1, True),
        (">= 1", 0, False),
        ("> 1", 1, False),
        ("=0", 0, True),
        (" = 2.50 ", Decimal("2.5"), True),
        ("<= -3", -3, True),
        ("< 10", 10, False),
    ],
)
def test_an_expectation_compares_the_number(text: str, value: int | Decimal, holds: bool) -> None:
    assert parse_expect(text).holds(Decimal(value)) is holds


@pytest.mark.parametrize("text", ["", ">= ", "== 1", "!= 1", ">= one", "1", ">= 1 or 2", "=> 1"])
def test_an_expectation_that_is_no_comparison_is_refused_saying_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"write = N, >= N, > N, <= N or < N"):
        parse_expect(text)


def test_an_expectation_reads_as_written() -> None:
    assert str(parse_expect(">=1")) == ">= 1" and str(parse_expect("< 2.50")) == "< 2.5"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) FROM orders",
        "select count(*) from orders;",
        "  SELECT COUNT(*) FROM orders WHERE note = 'a;b -- c /* d */ # e'  ",
        'SELECT COUNT(*) FROM `weird;name` WHERE x = "it\'s; fine"',
        "SELECT 'don''t' AS a",
        "(SELECT MAX(id) FROM orders)",
        "SELECT COUNT(*) FROM orders WHERE created > NOW() - INTERVAL 1 DAY",
        "SELECT COUNT(*) FROM updates",  # a word that starts like a keyword is no keyword
    ],
)
def test_one_plain_select_is_accepted(sql: str) -> None:
    assert select_problem(sql) is None


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("", "it is empty"),
        ("   ;", "it is empty"),
        ("DELETE FROM orders", "it starts with DELETE, not SELECT"),
        ("SELECT 1; DROP TABLE orders", "more than one statement"),
        ("SELECT 1;;", "more than one statement"),
        ("SELECT 1 /*! ; DROP TABLE orders */", "comments are not accepted"),
        ("SELECT 1 -- trailing", "comments are not accepted"),
        ("SELECT 1 # trailing", "comments are not accepted"),
        ("SELECT * INTO OUTFILE '/tmp/x' FROM orders", "SELECT … INTO writes"),
        ("SELECT id FROM orders FOR UPDATE", "FOR UPDATE locks rows"),
        ("SELECT id FROM orders LOCK IN SHARE MODE", "LOCK IN SHARE MODE locks rows"),
        ("SELECT 'unclosed", "a ' quote is never closed"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "it starts with WITH, not SELECT"),
    ],
)
def test_anything_but_one_plain_select_is_refused_saying_why(sql: str, why: str) -> None:
    problem = select_problem(sql)
    assert problem is not None and why in problem


def test_the_statement_is_sent_without_its_trailing_semicolon() -> None:
    assert plain_select("  SELECT 1 ;  ") == "SELECT 1"


def test_the_mapping_as_ddm_shows_it() -> None:
    both = SchemaDataNodes(2, (UsedDataNode("t0in01", "restore-0"), UsedDataNode("t1in01", "restore-1")))
    assert compare_mapping(PLAN, both).as_planned == 2 and compare_mapping(PLAN, both).problems == ()

    odd = SchemaDataNodes(1, (UsedDataNode("t0in01", "restore-0"), UsedDataNode("x9in01", "stranger")))
    result = compare_mapping(PLAN, odd)
    assert (result.as_planned, result.planned) == (1, 2)
    assert result.problems == (
        "restore-1 is not among the data nodes of orders-restore-1",
        "stranger is a data node of orders-restore-1 but not in the plan",
    )

    none = compare_mapping(PLAN, SchemaDataNodes(0))
    assert none.as_planned == 0 and none.problems == (
        "orders-restore-1 shows no logical schema, so its data nodes can't be seen",
    )


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (3, Decimal(3)),
        (Decimal("1.50"), Decimal("1.50")),
        (2.5, Decimal("2.5")),
        ("42", Decimal(42)),
        (b"7", Decimal(7)),
        ("orders", None),
        (None, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_only_a_number_counts(value: object, number: Decimal | None) -> None:
    assert as_number(value) == number


def test_a_check_is_judged_by_its_first_column_of_its_first_row_and_tells_only_the_number() -> None:
    assert judge(CHECK, (5, "secret@example.com")).passed
    failed = judge(CHECK, (0,))
    assert not failed.passed and failed.failure() == "orders restored: got 0, expected >= 1"
    assert judge(CHECK, None).failure() == "orders restored: the query returned no rows"
    leaky = judge(CHECK, ("alice@example.com",))
    assert leaky.failure() == "orders restored: the first column is not a number"
    assert "alice" not in str(leaky.audit())


def test_the_verdict_passes_only_when_everything_does() -> None:
    running = TargetDetails(status="RUNNING", access_ip="10.0.0.5", access_port="5066", engine_version="3.1.5")
    mapping = compare_mapping(PLAN, SchemaDataNodes(1, (UsedDataNode("t0in01"), UsedDataNode("t1in01"))))
    good = Verdict(running, mapping, (judge(CHECK, (12,)),))
    assert good.passed and good.params() == {
        "status": "RUNNING",
        "address": "10.0.0.5:5066",
        "checks": 1,
        "checks_passed": 1,
        "nodes": 2,
        "nodes_as_planned": 2,
    }
    assert good.audit()["checks"] == [
        {"name": "orders restored", "expect": ">= 1", "value": "12", "problem": None, "ok": True}
    ]

    bad = Verdict(running, mapping, (judge(CHECK, (0,)), CheckResult("slow", parse_expect("= 1"), problem="late")))
    assert not bad.passed
    assert bad.params()["problems"] == "orders restored: got 0, expected >= 1; slow: late"

    stuck = TargetDetails(status="ABNORMAL")
    late = not_ready("orders-restore-1", "ABNORMAL", timedelta(minutes=15))
    assert late == "orders-restore-1 is still ABNORMAL, not RUNNING within 15 min of its restore job's end"
    assert not Verdict(stuck, problems_before=(late,)).passed
    assert Verdict(stuck, problems_before=(late,)).params()["problems"] == late


def test_an_address_needs_both_parts_and_a_port_must_be_one() -> None:
    assert TargetDetails(status="RUNNING", access_ip="fd00::5", access_port="5066").address == "[fd00::5]:5066"
    assert TargetDetails(status="RUNNING", access_ip="10.0.0.5").address is None
    assert TargetDetails(status="RUNNING", access_ip="10.0.0.5", access_port="http").port is None
    assert TargetDetails(status=" running ").running and not TargetDetails(status=None).running
