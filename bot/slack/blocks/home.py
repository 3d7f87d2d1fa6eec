"""The App Home tab: what waits for this person, their requests, the recent ones in their environments, and
those environments' drills (a section only when they have any, in the words of `/ddm-restore drills`).

The requests waiting for them carry the card's own Approve / Reject buttons (same action ids, same confirm
dialog): a click from here is decided by the very same rules, read again from the store when it arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, DividerBlock, HeaderBlock, SectionBlock
from slack_sdk.models.views import View

from bot.restore.drills import DrillStatus
from bot.restore.request import RestoreRequest
from bot.slack.blocks.card import decision_buttons
from bot.slack.blocks.drills import drill_line
from bot.slack.blocks.messages import list_line

# A home view holds at most 100 blocks: each list is kept short.
LIST_LIMIT = 10


@dataclass(frozen=True)
class HomeLists:
    waiting: Sequence[RestoreRequest]  # pending, and this person may approve the current stage now
    mine: Sequence[RestoreRequest]  # theirs, newest first
    recent: Sequence[RestoreRequest]  # in their environments, newest first
    drills: Sequence[DrillStatus] = ()  # of their environments


def home_view(lists: HomeLists) -> View:
    blocks: list[Block] = [HeaderBlock(block_id="home_waiting_title", text="Waiting for you")]
    if not lists.waiting:
        blocks.append(_note("home_waiting_none", "Nothing waits for your approval."))
    for request in lists.waiting[:LIST_LIMIT]:
        blocks.append(SectionBlock(block_id=f"home_waiting:{request.id}", text=list_line(request)))
        blocks.append(ActionsBlock(block_id=f"home_actions:{request.id}", elements=decision_buttons(request)))
    blocks += [DividerBlock(), HeaderBlock(block_id="home_mine_title", text="Your requests")]
    blocks += _lines("home_mine", lists.mine, "You have made no restore requests.")
    blocks += [DividerBlock(), HeaderBlock(block_id="home_recent_title", text="Recent in your environments")]
    blocks += _lines("home_recent", lists.recent, "No restore requests yet.")
    if lists.drills:  # a block per drill: each line is bounded, ten of them together might not fit one section
        blocks += [DividerBlock(), HeaderBlock(block_id="home_drills_title", text="Drills")]
        blocks += [
            SectionBlock(block_id=f"home_drill:{index}", text=drill_line(status))
            for index, status in enumerate(lists.drills[:LIST_LIMIT])
        ]
    return View(type="home", callback_id="ddm_restore_home", blocks=blocks)


def _lines(prefix: str, requests: Sequence[RestoreRequest], empty: str) -> list[Block]:
    if not requests:
        return [_note(f"{prefix}_none", empty)]
    text = "\n".join(list_line(request) for request in requests[:LIST_LIMIT])
    return [SectionBlock(block_id=prefix, text=text[:3000])]


def _note(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[{"type": "mrkdwn", "text": text}])
