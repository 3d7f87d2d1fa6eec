"""Options loads for the external selects of step 1."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.blocks import SOURCE_BLOCK, TARGET_BLOCK
from bot.slack.listeners.options.instances import source_options, target_options


def register(app: AsyncApp) -> None:
    app.options(SOURCE_BLOCK)(source_options)
    app.options(TARGET_BLOCK)(target_options)
