"""What `/ddm-restore <text>` asks for. Pure parsing; every problem is named precisely."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.restore.figures import STATS_DAYS_DEFAULT, STATS_DAYS_MAX
from bot.restore.timeparse import TimeInputError, parse_restore_point
from bot.slack.blocks.escaping import escape
from bot.workflow.desk import HISTORY_PAGE_SIZE

HISTORY_DAYS_DEFAULT = 30
USAGE = (
    "*`/ddm-restore`* — open the restore form.\n"
    "*`/ddm-restore <source> at <time> to <target> [map <src_dn>=<tgt_dn> …]`* — the same form, pre-filled "
    "for review (source and target by name or id; time as ISO-8601 with a zone, epoch ms, or `latest`).\n"
    "*`/ddm-restore list`* — recent requests.\n"
    "*`/ddm-restore status <request-id | job-id>`* — where a request stands.\n"
    "*`/ddm-restore policy`* — this channel's environment and who may request and approve.\n"
    "*`/ddm-restore whoami`* — what you may do here: this channel's environment, whether you may request in it "
    "(and if not, why), the approval stages you can approve in, and whether you are a guest.\n"
    "*`/ddm-restore stats [days]`* — the measured time to restore (p50, p90) and the other figures of the restores "
    f"finished in the last `days` days (1–{STATS_DAYS_MAX}, default {STATS_DAYS_DEFAULT}), by environment.\n"
    "*`/ddm-restore history [days] [page]`* — this channel's environment's requests of the last `days` days "
    f"(default {HISTORY_DAYS_DEFAULT}), newest first, {HISTORY_PAGE_SIZE} a page: who asked and approved, how "
    "each ended and how long it took.\n"
    "*`/ddm-restore drills`* — this channel's environment's drills: schedule, next run, last result, targets left.\n"
    "*`/ddm-restore drill run <name>`* — start a drill now (with the environment's approval unless the drill's is "
    "`auto`).\n"
    "*`/ddm-restore help`* — this help."
)
MAX_MAP_PAIRS = 32  # more data nodes than any DDM instance has; keeps the form's metadata small
_PREFILL_RE = re.compile(
    r"^(?P<source>\S+)\s+at\s+(?P<time>.+?)\s+to\s+(?P<target>\S+)(?:\s+map\s+(?P<map>.*))?$", re.IGNORECASE
)


@dataclass(frozen=True)
class OpenForm:
    source: str | None = None
    time_text: str | None = None
    target: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowHelp:
    problem: str | None = None


@dataclass(frozen=True)
class ListRequests:
    pass


@dataclass(frozen=True)
class ShowStatus:
    reference: str


@dataclass(frozen=True)
class ShowPolicy:
    pass


@dataclass(frozen=True)
class ShowWhoami:
    pass


@dataclass(frozen=True)
class ShowStats:
    days: int = STATS_DAYS_DEFAULT


@dataclass(frozen=True)
class ShowHistory:
    days: int = HISTORY_DAYS_DEFAULT
    page: int = 1


@dataclass(frozen=True)
class ShowDrills:
    pass


@dataclass(frozen=True)
class RunDrill:
    name: str


Command = (
    OpenForm
    | ShowHelp
    | ListRequests
    | ShowStatus
    | ShowPolicy
    | ShowWhoami
    | ShowStats
    | ShowHistory
    | ShowDrills
    | RunDrill
)
# ASCII digits only, at most 4 (int() of a long run of digits is slow, and none is a number of days we take).
_DAYS_RE = re.compile(r"^\d{1,4}$", re.ASCII)


def parse_command(text: str) -> Command:
    words = text.strip()
    if not words:
        return OpenForm()
    head, _, rest = words.partition(" ")
    keyword = head.lower()
    if keyword in ("help", "-h", "--help", "?"):
        return ShowHelp()
    if keyword == "list":
        if rest.strip():
            return ShowHelp(f"`list` takes no arguments (got “{clip(rest)}”).")
        return ListRequests()
    if keyword == "policy":
        if rest.strip():
            return ShowHelp(f"`policy` takes no arguments (got “{clip(rest)}”).")
        return ShowPolicy()
    if keyword == "whoami":
        if rest.strip():
            return ShowHelp(f"`whoami` takes no arguments (got “{clip(rest)}”).")
        return ShowWhoami()
    if keyword == "stats":
        return _stats(rest.strip())
    if keyword == "drills":
        if rest.strip():
            return ShowHelp(f"`drills` takes no arguments (got “{clip(rest)}”).")
        return ShowDrills()
    if keyword == "drill":
        verb, _, name = rest.strip().partition(" ")
        if verb.lower() != "run" or not name.strip():
            return ShowHelp("Write `drill run <name>` (the drill's name as `/ddm-restore drills` shows it).")
        if len(name.strip()) > 80:
            return ShowHelp(f"“{clip(name)}” is too long for a drill's name.")
        return RunDrill(" ".join(name.split()))
    if keyword == "history":
        return _history(rest.split())
    if keyword == "status":
        reference = rest.strip()
        if not reference or " " in reference:
            return ShowHelp("`status` needs exactly one request id (R-…) or DDM job id.")
        return ShowStatus(reference)
    match = _PREFILL_RE.match(words)
    if not match:
        if " at " not in f" {words.lower()} ":
            return ShowHelp(
                f"I don't know “{clip(words)}”. To pre-fill the form, write `<source> at <time> to <target>`."
            )
        return ShowHelp(f"“{clip(words)}” is missing `to <target>`: write `<source> at <time> to <target>`.")
    time_text = match.group("time").strip()
    try:
        parse_restore_point(time_text)
    except TimeInputError as exc:
        return ShowHelp(f"Restore time: {clip(str(exc), 300)}")
    mapping: dict[str, str] = {}
    pairs = (match.group("map") or "").split()
    if len(pairs) > MAX_MAP_PAIRS:
        return ShowHelp(f"`map` takes at most {MAX_MAP_PAIRS} pairs (got {len(pairs)}).")
    for pair in pairs:
        if len(pair) > 160:
            return ShowHelp(f"Mapping “{clip(pair)}” is too long for a data node pair.")
        source_dn, sep, target_dn = pair.partition("=")
        if not sep or not source_dn or not target_dn:
            return ShowHelp(f"Mapping “{clip(pair)}” should look like `<source_dn>=<target_dn>`.")
        if source_dn in mapping:
            return ShowHelp(f"Data node {clip(source_dn)} is mapped twice.")
        if target_dn in mapping.values():
            return ShowHelp(f"Target data node {clip(target_dn)} is used twice; use each target once.")
        mapping[source_dn] = target_dn
    if match.group("map") is not None and not mapping:
        return ShowHelp("`map` needs at least one `<source_dn>=<target_dn>` pair.")
    source, target = match.group("source"), match.group("target")
    for label, value in (("source", source), ("target", target)):
        if len(value) > 64:
            return ShowHelp(f"The {label} “{clip(value)}” is too long for a DDM instance name or id.")
    return OpenForm(source=source, time_text=time_text, target=target, mapping=mapping)


def _stats(days: str) -> Command:
    if not days:
        return ShowStats()
    if not _DAYS_RE.fullmatch(days) or not 1 <= int(days) <= STATS_DAYS_MAX:
        return ShowHelp(f"`stats` takes a number of days from 1 to {STATS_DAYS_MAX} (got “{clip(days)}”).")
    return ShowStats(int(days))


def _history(words: list[str]) -> Command:
    if len(words) > 2:
        return ShowHelp(f"`history` takes a number of days and a page number (got “{clip(' '.join(words))}”).")
    days, page = [*words, "", ""][:2]
    if days and (not _DAYS_RE.fullmatch(days) or not 1 <= int(days) <= STATS_DAYS_MAX):
        return ShowHelp(f"`history` takes a number of days from 1 to {STATS_DAYS_MAX} (got “{clip(days)}”).")
    if page and (not _DAYS_RE.fullmatch(page) or int(page) < 1):
        return ShowHelp(f"`history`'s page is a number from 1 (got “{clip(page)}”).")
    return ShowHistory(int(days) if days else HISTORY_DAYS_DEFAULT, int(page) if page else 1)


def clip(text: str, limit: int = 80) -> str:
    """What the person typed, shown back in mrkdwn: escaped (no mentions or links) and at most `limit` long."""
    return escape(text, limit)
