"""The restore form's use cases, in the form's own fields. Step 1: the targets offered for a source, and the check
of source, restore point and target that resolves them into the choice step 2 starts from. Step 2: each source
data node's candidates with a suggested mapping, who the request would be asked of (its approval flow), and the
check of the request before the form closes.

DDM is read through RestoreChoices. Nothing here knows Slack: the listeners map each `Field` to its block."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bot.choices import ChoicesUnavailable, RestoreChoices
from bot.errors import Refusal
from bot.ports import RequestDesk
from bot.restore.checks import MAPPING, TARGET, TIME, PlanProblem, check_choice
from bot.restore.facts import SourceDataNode, TargetCandidate
from bot.restore.flow import Flow
from bot.restore.mapping import Candidate, suggest_mapping
from bot.restore.plan import NamedRef, RestorePlan
from bot.restore.timeparse import TimeInputError, latest_of, parse_restore_point, picker_epoch_ms

ID_LIMIT = 150  # longer is no DDM instance name or id
TYPED_TIME_LIMIT = 64


# ---- step 1 ---------------------------------------------------------------------------------------------------


class Field(Enum):
    """Step 1's fields, as the person knows them."""

    SOURCE = "source"
    PICKED_TIME = "picked time"  # the date-time picker
    TYPED_TIME = "typed time"  # the exact time (ISO-8601, epoch ms or `latest`); it wins over the picker
    TARGET = "target"


@dataclass(frozen=True)
class Step1Entry:
    """Step 1 as the person sent it: any of it may be missing, too long or unreadable."""

    source: str | None  # an instance id or name; None when none was chosen
    target: str | None
    typed_time: str = ""
    picked_time: object = None  # the picker's value as sent (epoch seconds); None when nothing was picked


@dataclass(frozen=True)
class Choice:
    """Step 1 resolved against DDM: what step 2 starts from."""

    source: NamedRef
    target: NamedRef
    restore_time_ms: int


@dataclass(frozen=True)
class FieldProblems:
    """Why step 1 can't go on: a sentence for each field to show it on (in the order found)."""

    messages: Mapping[Field, str]


async def targets_offered(choices: RestoreChoices, source: str, query: str = "") -> list[TargetCandidate] | None:
    """The restore targets a person may choose for `source` (an instance id or name): the available ones whose name
    or id contains `query`; None when no instance is that source. Raises ChoicesUnavailable when DDM can't say."""
    instance = await choices.resolve_instance(source)
    if instance is None:
        return None
    needle = query.strip().lower()
    return [
        t
        for t in await choices.targets(instance.id)
        if t.available and (not needle or needle in t.name.lower() or needle in t.id.lower())
    ]


async def check_step1(choices: RestoreChoices, entry: Step1Entry) -> Choice | FieldProblems:
    """What the form can tell before step 2: every field filled in and readable, the source and target known to
    DDM, the restore point in a window and the target usable (the one plan check's first half)."""
    found: dict[Field, str] = {}
    source_text, target_text, typed = entry.source, entry.target, entry.typed_time
    time_field = Field.TYPED_TIME if typed else Field.PICKED_TIME
    restore_ms: int | None = None
    latest = False
    if not source_text:
        found[Field.SOURCE] = "Choose the source DDM instance."
    if not target_text:
        found[Field.TARGET] = "Choose the target DDM instance."
    for field, value in ((Field.SOURCE, source_text), (Field.TARGET, target_text)):
        if value is not None and len(value) > ID_LIMIT:
            found[field] = "That is not a DDM instance name or id (too long)."
    if len(typed) > TYPED_TIME_LIMIT:
        found[Field.TYPED_TIME] = f"An exact time has at most {TYPED_TIME_LIMIT} characters."
    elif typed:
        try:
            point = parse_restore_point(typed)
            latest, restore_ms = point.is_latest, point.epoch_ms
        except TimeInputError as exc:
            found[Field.TYPED_TIME] = str(exc)
    elif entry.picked_time is not None:
        try:
            restore_ms = picker_epoch_ms(entry.picked_time)
        except TimeInputError as exc:
            found[Field.PICKED_TIME] = str(exc)
    else:
        found[Field.PICKED_TIME] = "Pick a restore point, or type an exact time (or latest) below."
    if found:
        return FieldProblems(found)
    assert source_text and target_text
    try:
        source = await choices.resolve_instance(source_text)
        if source is None:
            return _problem(Field.SOURCE, f"No DDM instance is named or has the id {_quoted(source_text)}.")
        windows = await choices.windows(source.id)
    except ChoicesUnavailable as exc:
        return _problem(Field.SOURCE, f"DDM could not be asked: {exc}")
    if latest:
        restore_ms = latest_of(windows)
        if restore_ms is None:
            return _problem(time_field, "This instance has no restorable time window (no usable backups).")
    assert restore_ms is not None
    try:
        resolved = await choices.resolve_target(source.id, target_text)
        targets = await choices.targets(source.id)
    except ChoicesUnavailable as exc:
        return _problem(Field.TARGET, f"DDM could not list the restore targets: {exc}")
    if isinstance(resolved, list):
        ids = ", ".join(t.id for t in resolved)
        return _problem(
            Field.TARGET,
            f"Several instances are named {_quoted(target_text)} ({_clip(ids, 400)}); choose one by its id.",
        )
    target = resolved
    problems = check_choice(
        source=source,
        target_id=target.id if target else (source.id if target_text == source.name else target_text),
        target_label=_quoted(target_text),
        restore_time_ms=restore_ms,
        windows=windows,
        targets=targets,
    )
    fields = {TIME: time_field, TARGET: Field.TARGET}
    for problem in problems:
        found.setdefault(fields.get(problem.field, Field.TARGET), problem.message)
    if found:
        return FieldProblems(found)
    assert target is not None
    return Choice(
        source=NamedRef(id=source.id, name=source.name),
        target=NamedRef(id=target.id, name=target.name),
        restore_time_ms=restore_ms,
    )


# ---- step 2 ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeChoices:
    """A source data node at the restore point, the target data nodes DDM offers for it, and the one suggested."""

    node: SourceDataNode
    candidates: tuple[Candidate, ...]
    suggested: str | None  # a candidate's id; None when none is available

    @property
    def mappable(self) -> bool:
        return any(c.available for c in self.candidates)


@dataclass(frozen=True)
class MappingChoices:
    """Step 2's choices: the source's data nodes at the restore point (none: DDM lists none)."""

    nodes: tuple[NodeChoices, ...]

    @property
    def unmappable(self) -> tuple[NodeChoices, ...]:
        """The nodes no available target data node can take: the mapping can't be made."""
        return tuple(n for n in self.nodes if not n.mappable)


async def mapping_choices(
    choices: RestoreChoices, choice: Choice, preferred: Mapping[str, str] | None = None
) -> MappingChoices:
    """What step 2 offers for `choice`, with a suggestion that follows `preferred` (source -> target data node, by
    name or id, as a command's `map` gives them) where it can. Raises ChoicesUnavailable when DDM can't say."""
    source_id, restore_ms = choice.source.id, choice.restore_time_ms
    nodes = await choices.source_nodes(source_id, restore_ms)
    offered = await asyncio.gather(
        *[
            choices.candidates(source_id, target_id=choice.target.id, source_node_id=n.id, restore_time_ms=restore_ms)
            for n in nodes
        ]
    )
    candidates = {n.id: tuple(c) for n, c in zip(nodes, offered, strict=True)}
    names = {n.id: n.name for n in nodes} | {c.id: c.name for cs in candidates.values() for c in cs}
    suggestion = suggest_mapping([n.id for n in nodes], names, candidates, _by_id(preferred or {}, names))
    return MappingChoices(tuple(NodeChoices(n, candidates[n.id], suggestion[n.id]) for n in nodes))


def _by_id(preferred: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """`map` pairs may use names or ids; turn them into ids."""
    by_name = {name.lower(): node_id for node_id, name in names.items()}
    resolved: dict[str, str] = {}
    for source, target in preferred.items():
        source_id = source if source in names else by_name.get(source.lower(), source)
        target_id = target if target in names else by_name.get(target.lower(), target)
        resolved[source_id] = target_id
    return resolved


@dataclass(frozen=True)
class FlowPreview:
    """Who a request would be asked of, shown in step 2 before it is submitted: the flow the routing rules choose,
    or the message of the rule that refuses it."""

    flow: Flow | None = None
    refused: str | None = None


async def flow_preview(
    desk: RequestDesk, choice: Choice, data_nodes: int, *, requester_id: str, channel_id: str
) -> FlowPreview:
    """The approval flow a request of `choice` with `data_nodes` source data nodes would get now (the same
    routing the request gets when it is made)."""
    try:
        flow = await desk.flow_for(
            source=choice.source,
            target=choice.target,
            restore_time_ms=choice.restore_time_ms,
            data_nodes=data_nodes,
            requester_id=requester_id,
            channel_id=channel_id,
        )
    except Refusal as refused:
        return FlowPreview(refused=refused.message)
    return FlowPreview(flow=flow)


async def check_request(
    desk: RequestDesk, plan: RestorePlan, *, requester_id: str, channel_id: str
) -> list[PlanProblem]:
    """Everything that can refuse the request, asked before the form closes and changing nothing: who may ask
    here, a routing rule that refuses it (field "flow"), a target another request holds, and the one plan check
    against DDM now. Empty when it can be made."""
    try:
        await desk.precheck_create(plan, requester_id=requester_id, channel_id=channel_id)
    except Refusal as refused:
        return [PlanProblem(refused.field or MAPPING, refused.message)]
    return await desk.check_plan_live(plan)


def _problem(field: Field, message: str) -> FieldProblems:
    return FieldProblems({field: message})


def _quoted(text: str) -> str:
    """What the person typed, quoted back (clipped: it may be anything up to the limits)."""
    return f"“{_clip(text, 80)}”"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
