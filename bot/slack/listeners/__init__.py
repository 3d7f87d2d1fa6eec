"""Slack listeners, one package per kind (commands, actions, views, options), one module-level handler per
callback or action id.

Every handler acks first (Slack's 3 s budget) and hands slow work to `deps.tasks`; the app runs with
`process_before_response=True`, so the ack goes out as soon as the handler returns. Handlers receive `deps`
as a keyword argument like bolt's own (`ack`, `body`, `client`): a middleware puts it in the context.
Failures become answers in bot.slack.answers, not in the handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.slack.answers import on_listener_error
from bot.slack.deps import Deps
from bot.slack.listeners import actions, commands, events, options, views

__all__ = ["Deps", "register_all"]  # Deps lives in bot.slack.deps; importable from here for the composition root


def register_all(app: AsyncApp, deps: Deps) -> None:
    async def provide_deps(context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]) -> None:
        context["deps"] = deps
        await next_()

    app.use(provide_deps)
    app.error(on_listener_error)
    for kind in (commands, options, actions, views, events):
        kind.register(app)
