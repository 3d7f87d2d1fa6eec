"""Proving a restore: what the target must look like once its job completed, and how the facts are judged.

Two levels. DDM's: the target instance is RUNNING again (within `ready_within`), and the data nodes its logical
schemas now use are the plan's targets. SQL's (when an environment names a read-only account and checks): each
check is a single SELECT whose first column of the first row is compared with `expect`. Nothing a check returns
is told beyond that one number. No I/O here: the verifier (bot.workflow.verify) asks DDM and the target.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.restore.notices import ParamValue
from bot.restore.plan import RestorePlan

DEFAULT_READY_WITHIN = timedelta(minutes=15)
DEFAULT_CHECK_TIMEOUT_SECONDS = 60.0
RUNNING = "RUNNING"
PROBLEMS_LIMIT = 1500  # the problems' text kept on the request (the card shows it)

# ---- a check's expectation -------------------------------------------------------------------------------------

_EXPECT = re.compile(r"^\s*(>=|<=|=|>|<)\s*([+-]?\d+(?:\.\d+)?)\s*$")
_NUMBER = re.compile(r"^\s*[+-]?\d+(?:\.\d+)?\s*$")


def number_text(value: Decimal) -> str:
    """`0`, `12`, `1.5`: a number as people write it (no exponent, no trailing zeros)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Expectation:
    """`>= 1`: how a check's number is judged."""

    op: str
    number: Decimal

    def holds(self, value: Decimal) -> bool:
        return {
            "=": value == self.number,
            ">=": value >= self.number,
            ">": value > self.number,
            "<=": value <= self.number,
            "<": value < self.number,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.op} {number_text(self.number)}"


def parse_expect(text: str) -> Expectation:
    """`= N`, `>= N`, `> N`, `<= N` or `< N` (N an integer or a decimal); ValueError saying what is accepted."""
    match = _EXPECT.match(text or "")
    if match is None:
        raise ValueError(f'{text!r} is not a comparison: write = N, >= N, > N, <= N or < N (e.g. ">= 1")')
    return Expectation(match.group(1), Decimal(match.group(2)))


# ---- the one-SELECT rule ------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_LOCKING = {("FOR", "UPDATE"): "FOR UPDATE", ("FOR", "SHARE"): "FOR SHARE", ("LOCK", "IN"): "LOCK IN SHARE MODE"}


def select_problem(sql: str) -> str | None:
    """Why `sql` is not one plain SELECT statement, or None when it is. Refused: more than one statement,
    comments (MySQL runs `/*! … */` as SQL), anything but SELECT, SELECT … INTO and locking reads. The account
    should be read-only as well: this rule keeps honest mistakes out, the grants keep everything else out."""
    code, problem = _code_of(sql)
    if problem is not None:
        return problem
    words = [w.upper() for w in _WORD.findall(code)]
    if not words:
        return "it is empty"
    if words[0] != "SELECT":
        return f"it starts with {words[0]}, not SELECT"
    if "INTO" in words:
        return "SELECT … INTO writes; only reading is accepted"
    for pair in itertools.pairwise(words):
        if pair in _LOCKING:
            return f"{_LOCKING[pair]} locks rows; only plain reading is accepted"
    return None


def plain_select(sql: str) -> str:
    """The statement as it is sent: trimmed, without its one trailing semicolon (`select_problem` passed it)."""
    return sql.strip().removesuffix(";").rstrip()


def _code_of(sql: str) -> tuple[str, str | None]:
    """The statement with its quoted parts blanked out (so their words are not read as SQL), or a problem."""
    text = plain_select(sql or "")
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        ahead = text[index : index + 2]
        if quote is not None:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                if text[index + 1 : index + 2] == quote:  # a doubled quote stands for itself
                    index += 2
                    continue
                quote = None
            out.append(" ")
            index += 1
            continue
        if char in "'\"`":
            quote = char
            out.append(" ")
        elif ahead == "/*" or char == "#" or (ahead == "--" and text[index + 2 : index + 3] in ("", " ", "\t", "\n")):
            return "", "comments are not accepted (MySQL runs /*! … */ as SQL)"
        elif char == ";":
            return "", "it holds more than one statement (a ; inside it)"
        else:
            out.append(char)
        index += 1
    if quote is not None:
        return "", f"a {quote} quote is never closed"
    return "".join(out), None


# ---- the configuration -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlCheck:
    name: str
    database: str
    sql: str  # one SELECT (select_problem), as sent
    expect: Expectation


@dataclass(frozen=True)
class VerifyRule:
    """An environment's verification: how long the target may take to be RUNNING again (it bounds the whole
    verification, retries included) and the SQL checks, each limited to `timeout_seconds`."""

    ready_within: timedelta = DEFAULT_READY_WITHIN
    timeout_seconds: float = DEFAULT_CHECK_TIMEOUT_SECONDS
    checks: tuple[SqlCheck, ...] = ()


# ---- what DDM says of the target ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComputeNode:
    """One DDM node of the instance (DDM's own compute nodes, not data nodes)."""

    status: str | None = None
    ip: str | None = None
    port: str | None = None


@dataclass(frozen=True)
class TargetDetails:
    """The target DDM instance's details (`GET /v1/{project_id}/instances/{instance_id}`)."""

    status: str | None
    access_ip: str | None = None
    access_port: str | None = None
    engine_version: str | None = None
    nodes: tuple[ComputeNode, ...] = ()

    @property
    def running(self) -> bool:
        return (self.status or "").strip().upper() == RUNNING

    @property
    def address(self) -> str | None:
        """`10.0.0.5:5066`, where the target speaks the MySQL protocol; None when DDM shows none."""
        if not self.access_ip or not self.access_port:
            return None
        host = f"[{self.access_ip}]" if ":" in self.access_ip else self.access_ip
        return f"{host}:{self.access_port}"

    @property
    def port(self) -> int | None:
        try:
            value = int(str(self.access_port or "").strip())
        except ValueError:
            return None
        return value if 0 < value < 65536 else None


@dataclass(frozen=True)
class UsedDataNode:
    id: str
    name: str = ""
    status: str | None = None


@dataclass(frozen=True)
class SchemaDataNodes:
    """The data nodes the target's logical schemas use (`used_rds` of `GET /v1/…/instances/{id}/databases`)."""

    schemas: int
    nodes: tuple[UsedDataNode, ...] = ()


@dataclass(frozen=True)
class MappingResult:
    as_planned: int
    planned: int
    problems: tuple[str, ...] = ()


def compare_mapping(plan: RestorePlan, found: SchemaDataNodes) -> MappingResult:
    """Are the data nodes DDM shows for the target the plan's target data nodes? DDM tells which data nodes the
    target's schemas use, not which source node each one was restored from: the pairs themselves can't be seen."""
    target = plan.target.label
    planned = {m.target.id: m.target.label for m in plan.mappings}
    if found.schemas == 0:
        return MappingResult(0, len(planned), (f"{target} shows no logical schema, so its data nodes can't be seen",))
    seen = {node.id: node for node in found.nodes}
    problems = [f"{label} is not among the data nodes of {target}" for key, label in planned.items() if key not in seen]
    problems += [
        f"{node.name or node.id} is a data node of {target} but not in the plan"
        for node in found.nodes
        if node.id not in planned
    ]
    return MappingResult(sum(1 for key in planned if key in seen), len(planned), tuple(problems))


# ---- a check's result ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check as it went: its number, or why it has none. Only the number is ever told."""

    name: str
    expect: Expectation
    value: Decimal | None = None
    problem: str | None = None  # no rows, no number, the query failed, no answer in time

    @property
    def passed(self) -> bool:
        return self.problem is None and self.value is not None and self.expect.holds(self.value)

    def failure(self) -> str:
        if self.problem is not None or self.value is None:
            return f"{self.name}: {self.problem or 'no number'}"
        return f"{self.name}: got {number_text(self.value)}, expected {self.expect}"

    def audit(self) -> dict[str, Any]:
        value = number_text(self.value) if self.value is not None else None
        return {
            "name": self.name,
            "expect": str(self.expect),
            "value": value,
            "problem": self.problem,
            "ok": self.passed,
        }


def judge(check: SqlCheck, row: tuple[Any, ...] | None) -> CheckResult:
    """The first column of the first row, as a number, against the check's expectation."""
    if not row:
        return CheckResult(check.name, check.expect, problem="the query returned no rows")
    value = as_number(row[0])
    if value is None:
        return CheckResult(check.name, check.expect, problem="the first column is not a number")
    return CheckResult(check.name, check.expect, value=value)


def as_number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


# ---- the verdict -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Everything a verification found: passed only when the target is RUNNING, its data nodes are as planned
    and every check passed."""

    details: TargetDetails
    mapping: MappingResult | None = None
    checks: tuple[CheckResult, ...] = ()
    problems_before: tuple[str, ...] = ()  # what stopped it early (not RUNNING in time, could not finish)

    @property
    def problems(self) -> tuple[str, ...]:
        found = list(self.problems_before)
        if self.mapping is not None:
            found += self.mapping.problems
        found += [check.failure() for check in self.checks if not check.passed]
        return tuple(found)

    @property
    def passed(self) -> bool:
        return self.details.running and self.mapping is not None and not self.problems

    def problems_text(self) -> str:
        text = "; ".join(self.problems)
        return text if len(text) <= PROBLEMS_LIMIT else text[: PROBLEMS_LIMIT - 1] + "…"

    def params(self) -> dict[str, ParamValue]:
        """What the thread's message is written from (bot.slack.blocks.messages)."""
        params: dict[str, ParamValue] = {
            "status": self.details.status or "unknown",
            "address": self.details.address,
            "checks": len(self.checks),
            "checks_passed": sum(1 for check in self.checks if check.passed),
        }
        if self.mapping is not None:
            params |= {"nodes": self.mapping.planned, "nodes_as_planned": self.mapping.as_planned}
        if not self.passed:
            params["problems"] = self.problems_text()
        return params

    def audit(self) -> dict[str, Any]:
        """The audit record's details: DDM's facts and each check's number (never a row of data)."""
        details = self.details
        found: dict[str, Any] = {
            "status": details.status,
            "address": details.address,
            "engine_version": details.engine_version,
            "nodes": [{"status": n.status, "ip": n.ip, "port": n.port} for n in details.nodes],
            "checks": [check.audit() for check in self.checks],
        }
        if self.mapping is not None:
            found["data_nodes"] = {"as_planned": self.mapping.as_planned, "planned": self.mapping.planned}
        if not self.passed:
            found["problems"] = list(self.problems)
        return found


def not_ready(target: str, status: str | None, bound: timedelta) -> str:
    """A target that was not RUNNING again within its bound (`ready_within`), named."""
    minutes = bound.total_seconds() / 60
    return (
        f"{target} is still {status or 'without a status'}, not RUNNING within {minutes:g} min of its restore job's end"
    )


def could_not_finish(why: str) -> str:
    return f"the verification could not finish: {why}"
