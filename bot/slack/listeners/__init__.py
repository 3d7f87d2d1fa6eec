"""Slack listeners: each module registers its handlers on the AsyncApp.

Every handler acks first (Slack's 3 s budget) and hands slow work to `deps.tasks`; the app runs with
`process_before_response=True`, so the ack goes out as soon as the handler returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp

from bot.choices import RestoreChoices
from bot.service import RestoreService
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from bot.tasks import TaskRunner


@dataclass(frozen=True)
class Deps:
    service: RestoreService
    choices: RestoreChoices
    directory: SlackDirectory
    notifier: SlackNotifier
    tasks: TaskRunner
    # Live checks in a view submission must fit in Slack's 3 s together with the ack.
    check_budget_seconds: float = 2.3
    # Channels the bot was last seen to be a member of (monotonic time), to spare a call per command.
    channels_joined: dict[str, float] = field(default_factory=dict)


def register_all(app: AsyncApp, deps: Deps) -> None:
    from bot.slack.listeners import actions, commands, options, views

    commands.register(app, deps)
    options.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
