"""slack_sdk's retries, kept to what is safe to repeat.

slack_sdk's AsyncConnectionErrorRetryHandler sends a call again when its connection drops, and Slack does not
de-duplicate chat.postMessage: a connection that drops after Slack posted gives a second card, a second
"approved (1/1)". So a call that creates something is sent again only when the connection was never made
(ClientConnectorError: nothing reached Slack); any later drop reaches the caller, and the announcer looks for
the message by its metadata before it posts again (bot.slack.posted). Reads, chat.update and views.* are
repeated as before; a 429 is always waited out and repeated (Slack did nothing).
"""

from __future__ import annotations

from aiohttp import ClientConnectorError, ClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# Calls whose second sending changes nothing: reads, a redraw, a modal (a views.open whose first try got through
# is refused with exchanged_trigger_id, which the form handles). A method in neither set is not repeated.
REPEATABLE = frozenset(
    {
        "api.test",
        "auth.test",
        "apps.connections.open",
        "chat.getPermalink",
        "chat.update",
        "conversations.history",
        "conversations.info",
        "conversations.members",
        "conversations.open",
        "conversations.replies",
        "usergroups.users.list",
        "users.info",
        "views.open",
        "views.publish",
        "views.push",
        "views.update",
    }
)
NOT_REPEATABLE = frozenset({"chat.postMessage", "chat.postEphemeral"})


def method_of(url: str) -> str:
    """`chat.postMessage` of `https://slack.com/api/chat.postMessage?…`."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def may_have_arrived(exc: BaseException) -> bool:
    """A call failed on the way (the connection broke, the answer timed out) after its request may have reached
    Slack, which may then have carried it out."""
    return isinstance(exc, ClientError | OSError | TimeoutError) and not isinstance(exc, ClientConnectorError)


class RepeatSafeConnectionRetry(AsyncConnectionErrorRetryHandler):
    """The connection-error retry of slack_sdk, for the calls that may be repeated; a post only when it never
    left."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if error is None:
            return False
        if method_of(request.url) in REPEATABLE:
            return await super()._can_retry_async(state=state, request=request, response=response, error=error)
        return isinstance(error, ClientConnectorError)


def retry_handlers() -> list[AsyncRetryHandler]:
    """A new client's handlers (bolt copies them into the client it hands each listener)."""
    return [RepeatSafeConnectionRetry(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
