"""The stable interaction ids: tests, docs and users' automations rely on them (README "Interaction reference").

These never change. New fields may get new ids; existing ones stay.
"""

from __future__ import annotations

COMMAND = "/ddm-restore"
STEP1_CALLBACK = "ddm_restore_source"
REQUEST_CALLBACK = "ddm_restore_request"
REJECT_CALLBACK = "reject_reason"
SOURCE_BLOCK = "source_instance"
TIME_BLOCK = "restore_time"
EXACT_BLOCK = "restore_time_exact"
TARGET_BLOCK = "target_instance"
DN_MAP_PREFIX = "dn_map:"
DN_TARGET_ACTION = "dn_target"
REASON_BLOCK = "reason"
# The urgent (break-glass) path, where the channel's environment has one: a checkbox and the incident reference.
URGENT_BLOCK = "urgent"
URGENT_VALUE = "urgent"
INCIDENT_BLOCK = "incident"
# Step 2's line saying who the request will be asked of (its approval flow, bot.restore.rules).
FLOW_BLOCK = "approval_flow"
REVIEW_ACTION = "review_request"  # the follow-up review's [Reviewed] button (value = request id)
APPROVE_ACTION = "approve_request"
REJECT_ACTION = "reject_request"
CANCEL_ACTION = "cancel_request"
NUDGE_ACTION = "nudge_request"  # the requester's [Nudge] on the card, where reminders are set up (value = request id)
# The value of an option that can't be chosen (a note such as "choose a source first"); never a real id.
NO_SOURCE_VALUE = "__choose_source_first__"
