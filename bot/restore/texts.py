"""Moved. The sentences people read now live in the Slack layer (bot.slack.blocks.messages: `render_notice`);
`duration_text` lives in bot.restore.timeparse and stays importable from here for the workflow."""

from __future__ import annotations

from bot.restore.timeparse import duration_text

__all__ = ["duration_text"]
