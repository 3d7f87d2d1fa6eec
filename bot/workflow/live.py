"""Ask DDM what the one plan check needs to know about a plan, within the DDM call budget."""

from __future__ import annotations

import asyncio

from bot.ports import DdmGateway, DdmUnreachable
from bot.restore.checks import SOURCE, TIME, LiveFacts, PlanProblem, check_plan, static_problems
from bot.restore.facts import Instance
from bot.restore.mapping import Candidate
from bot.restore.plan import RestorePlan

PARAMETER_ERROR = "DBS.280001"  # DDM's "parameter error": at this step, the restore time


async def live_facts(ddm: DdmGateway, plan: RestorePlan, *, names: bool = True) -> LiveFacts | PlanProblem:
    """What DDM says now about the plan's source, target and data nodes; a problem when it can't be asked.
    Without `names` the instance list is not read (the source is known to DDM when its window is)."""
    source_id = plan.source.id
    try:
        instances, windows, targets, nodes = await asyncio.gather(
            ddm.instances() if names else _known(Instance(id=source_id, name=plan.source.label)),
            ddm.windows(source_id),
            ddm.targets(source_id),
            ddm.source_data_nodes(source_id, plan.restore_time_ms),
        )
        answers = await asyncio.gather(
            *[
                ddm.data_node_candidates(
                    source_id,
                    target_id=plan.target.id,
                    source_node_id=m.source.id,
                    restore_time_ms=plan.restore_time_ms,
                )
                for m in plan.mappings
            ]
        )
    except DdmUnreachable as exc:
        if exc.code:
            field = TIME if exc.code == PARAMETER_ERROR else SOURCE
            return PlanProblem(field, f"DDM says {exc.code}: {exc.message}")
        return PlanProblem(SOURCE, f"DDM could not be asked: {exc.message}")
    candidates: dict[str, list[Candidate]] = {m.source.id: list(a) for m, a in zip(plan.mappings, answers, strict=True)}
    return LiveFacts(
        source=next((i for i in instances if i.id == source_id), None),
        windows=windows,
        targets=targets,
        source_nodes=nodes,
        candidates=candidates,
    )


async def _known(instance: Instance) -> list[Instance]:
    return [instance]


async def check_live(
    ddm: DdmGateway, plan: RestorePlan, *, names: bool = True
) -> tuple[list[PlanProblem], LiveFacts | None]:
    """The one plan check against DDM right now: the problems (empty when the plan can run) and the facts."""
    if problems := static_problems(plan):
        return problems, None
    facts = await live_facts(ddm, plan, names=names)
    if isinstance(facts, PlanProblem):
        return [facts], None
    return check_plan(plan, facts), facts
