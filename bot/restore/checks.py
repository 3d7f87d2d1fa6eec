"""The one plan check: is this plan possible, given what DDM says right now?

The form (before the modal closes), `create` and the re-validation before the POST all use it. Each problem
names the form field to blame; the Slack layer only maps fields to block ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.restore.facts import Instance, SourceDataNode, TargetCandidate
from bot.restore.mapping import Candidate
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.timeparse import Window, check_in_windows
from bot.restore.wording import clause

SOURCE = "source_instance"
TIME = "restore_time"
TARGET = "target_instance"
MAPPING = "dn_map"


def mapping_field(source_node_id: str) -> str:
    return f"{MAPPING}:{source_node_id}"


@dataclass(frozen=True)
class PlanProblem:
    field: str  # source_instance, restore_time, target_instance, dn_map, dn_map:<source data node id>
    message: str


@dataclass(frozen=True)
class LiveFacts:
    """What DDM said about a plan's source, target and data nodes (None: that question was not asked)."""

    source: Instance | None
    windows: Sequence[Window]
    targets: Sequence[TargetCandidate]
    source_nodes: Sequence[SourceDataNode] | None = None
    candidates: Mapping[str, Sequence[Candidate]] = field(default_factory=dict)  # by source data node id


def static_problems(plan: RestorePlan) -> list[PlanProblem]:
    """What makes a plan impossible on its face, before asking DDM anything."""
    return [PlanProblem(f, m) for f, m in plan.problems()]


def check_choice(
    *,
    source: Instance,
    target_id: str,
    target_label: str,
    restore_time_ms: int,
    windows: Sequence[Window],
    targets: Sequence[TargetCandidate],
) -> list[PlanProblem]:
    """The first half of the plan check, all the form's first step can know: the restore point inside a window,
    and a target DDM offers and calls available."""
    problems: list[PlanProblem] = []
    if window_problem := check_in_windows(restore_time_ms, list(windows)):
        problems.append(PlanProblem(TIME, window_problem))
    target = next((t for t in targets if t.id == target_id), None)
    if target_id == source.id:
        problems.append(PlanProblem(TARGET, "The target must be another DDM instance than the source."))
    elif target is None:
        problems.append(PlanProblem(TARGET, f"{target_label} is not a restore target for {source.name}."))
    elif not target.available:
        problems.append(PlanProblem(TARGET, f"{target.name} can't be used: {clause(target.reason, 'unavailable')}."))
    return problems


def check_plan(plan: RestorePlan, facts: LiveFacts) -> list[PlanProblem]:
    """Every reason `plan` can't run now; empty when it can."""
    problems = static_problems(plan)
    if problems:
        return problems
    if facts.source is None:
        return [PlanProblem(SOURCE, f"{plan.source.label} is not a DDM instance of this project.")]
    problems.extend(
        check_choice(
            source=facts.source,
            target_id=plan.target.id,
            target_label=plan.target.label,
            restore_time_ms=plan.restore_time_ms,
            windows=facts.windows,
            targets=facts.targets,
        )
    )
    if problems or facts.source_nodes is None:
        return problems
    expected = {node.id: node for node in facts.source_nodes}
    planned = {m.source.id for m in plan.mappings}
    if set(expected) != planned:
        names = ", ".join(sorted(n.name for n in expected.values())) or "none"
        return [PlanProblem(MAPPING, f"At this restore point the source's data nodes are: {names}.")]
    for mapping in plan.mappings:
        offered = facts.candidates.get(mapping.source.id)
        if offered is None:
            continue
        node = next((c for c in offered if c.id == mapping.target.id), None)
        if node is None:
            message = f"{mapping.target.label} is not a candidate for this data node."
            problems.append(PlanProblem(mapping_field(mapping.source.id), message))
        elif not node.available:
            message = f"{node.name} can't be used: {clause(node.reason, 'unavailable')}."
            problems.append(PlanProblem(mapping_field(mapping.source.id), message))
    return problems


def named_by_ddm(plan: RestorePlan, facts: LiveFacts) -> RestorePlan:
    """`plan` with the names DDM gives its instances and data nodes (never the names a form sent back)."""
    source = facts.source
    target = next((t for t in facts.targets if t.id == plan.target.id), None)
    nodes = {n.id: n.name for n in facts.source_nodes or ()}

    def target_node_name(mapping: DataNodeMapping) -> str:
        offered = facts.candidates.get(mapping.source.id) or ()
        return next((c.name for c in offered if c.id == mapping.target.id), "")

    return plan.model_copy(
        update={
            "source": NamedRef(id=plan.source.id, name=source.name if source else ""),
            "target": NamedRef(id=plan.target.id, name=target.name if target else ""),
            "mappings": tuple(
                DataNodeMapping(
                    source=NamedRef(id=m.source.id, name=nodes.get(m.source.id, "")),
                    target=NamedRef(id=m.target.id, name=target_node_name(m)),
                )
                for m in plan.mappings
            ),
        }
    )
