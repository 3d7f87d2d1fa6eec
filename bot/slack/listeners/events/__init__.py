"""Events: the App Home opened (app_home_opened) is published for the person who opened it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.deps import Deps


async def app_home_opened(event: dict[str, Any], deps: Deps) -> None:
    user_id = event.get("user")
    if event.get("tab", "home") != "home" or not isinstance(user_id, str) or not user_id or deps.home is None:
        return
    deps.tasks.spawn(deps.home.opened(user_id), f"home of {user_id}")


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(app_home_opened)
