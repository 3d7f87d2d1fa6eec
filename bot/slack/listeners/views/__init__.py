"""View submissions: step 1 (source, time, target), step 2 (mapping → request), and the reject reason."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.blocks import REJECT_CALLBACK, REQUEST_CALLBACK, STEP1_CALLBACK
from bot.slack.listeners.views.reject import reject_submitted
from bot.slack.listeners.views.step1 import step1_submitted
from bot.slack.listeners.views.step2 import request_submitted


def register(app: AsyncApp) -> None:
    app.view(STEP1_CALLBACK)(step1_submitted)
    app.view(REQUEST_CALLBACK)(request_submitted)
    app.view(REJECT_CALLBACK)(reject_submitted)
