"""An environment with reminders and an escalation, fast enough for tests (tests/e2e/test_reminders_e2e.py,
test_home_e2e.py)."""

from __future__ import annotations

from tests.support.environments import prod
from tests.support.harness import GROUP, BotHarness

CHANNEL = "CPROD"
ONCALL_GROUP, ONCALL = "S0ONCALL", "UONCALL"
ENVIRONMENTS = (
    prod(CHANNEL, approvers=f'usergroups = ["{GROUP}"]')
    + f"""
[environment.reminders]
remind_after_minutes = 0.05
repeat_every_minutes = 0.05
escalate_after_minutes = 0.1
escalate_to = {{ usergroups = ["{ONCALL_GROUP}"] }}
"""
)


def dms_to(h: BotHarness, user: str) -> list[str]:
    return [str(m["text"]) for m in h.fake.messages.get(h.fake.dm_channel(user), [])]
