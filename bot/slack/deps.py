"""What the listeners work with. Handed to every handler as its `deps` argument (bot.slack.listeners puts it in
bolt's context), so handler modules need no globals and import nothing back from the listeners package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.choices import RestoreChoices
from bot.ports import RequestDesk
from bot.runtime.supervisor import Supervisor
from bot.slack.directory import SlackDirectory
from bot.slack.home import HomePublisher
from bot.slack.notifier import SlackNotifier
from bot.workflow.drills import DrillRunner
from bot.workflow.places import Places


@dataclass(frozen=True)
class Deps:
    desk: RequestDesk  # the workflow's use cases
    places: Places  # each environment: its channels, rules and DDM
    choices: RestoreChoices
    directory: SlackDirectory
    notifier: SlackNotifier
    tasks: Supervisor
    # Live checks in a view submission must fit in Slack's 3 s together with the ack.
    check_budget_seconds: float = 2.3
    # Channels the bot was last seen to be a member of (monotonic time), to spare a call per command.
    channels_joined: dict[str, float] = field(default_factory=dict)
    # The choices of each environment (by name), when there are several; else `choices` serves every channel.
    choices_by_environment: Mapping[str, RestoreChoices] = field(default_factory=dict)
    home: HomePublisher | None = None  # the App Home tab
    drills: DrillRunner | None = None  # the environments file's drills (None: none run in this process)

    def choices_in(self, channel_id: str) -> RestoreChoices:
        """The live lists of the channel's environment (its project, with its credentials)."""
        place = self.places.for_channel(channel_id)
        if place is None:
            return self.choices
        return self.choices_by_environment.get(place.environment.name, self.choices)
