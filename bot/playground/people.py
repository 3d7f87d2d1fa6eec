"""The playground's workspace: one channel with the bot, five people, and the approvers' user group."""

from __future__ import annotations

from dataclasses import dataclass

from bot.playground.slack_api import FakeSlack, FakeUser

CHANNEL_ID = "CPLAYOPS"
CHANNEL_NAME = "ops"
LEADS_GROUP_ID = "SDBLEADS"
LEADS_HANDLE = "db-leads"


@dataclass(frozen=True)
class Person:
    user: FakeUser
    role: str  # what the page's switcher says about them
    can: str  # one line for docs/playground.md and the switcher's tooltip


PEOPLE: tuple[Person, ...] = (
    Person(
        FakeUser("UALICE", "alice", tz="Asia/Shanghai", tz_offset=8 * 3600, real_name="Alice Requester"),
        "requester",
        "opens /ddm-restore, fills the form, cancels her own request; cannot approve it",
    ),
    Person(
        FakeUser("UBOB", "bob", tz="Europe/Berlin", tz_offset=3600, real_name="Bob Lead"),
        "lead 1",
        f"member of @{LEADS_HANDLE}: approves or rejects",
    ),
    Person(
        FakeUser("UCAROL", "carol", tz="America/New_York", tz_offset=-5 * 3600, real_name="Carol Lead"),
        "lead 2",
        f"member of @{LEADS_HANDLE}: approves or rejects",
    ),
    Person(
        FakeUser("UDAN", "dan", real_name="Dan Outsider"),
        "outsider",
        f"in the channel, not in @{LEADS_HANDLE}: may request, is refused when approving",
    ),
    Person(
        FakeUser("UGINA", "gina", tz="Europe/London", is_restricted=True, real_name="Gina Guest"),
        "guest",
        "a guest account: never approves",
    ),
)
LEADS = ("UBOB", "UCAROL")


def populate(fake: FakeSlack) -> None:
    """Register the people, the group and the channel with the stand-in for Slack."""
    for person in PEOPLE:
        fake.add_user(person.user)
    fake.set_usergroup(LEADS_GROUP_ID, list(LEADS))
    fake.add_channel(CHANNEL_ID, CHANNEL_NAME, members=[p.user.id for p in PEOPLE])
