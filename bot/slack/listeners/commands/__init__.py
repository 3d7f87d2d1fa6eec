"""Slash commands."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.blocks import COMMAND
from bot.slack.listeners.commands.ddm_restore import ddm_restore


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(ddm_restore)
