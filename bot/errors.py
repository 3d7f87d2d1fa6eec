"""One small tree of the bot's own exceptions, by whose doing a failure is: what a person did wrong (or asked
for what cannot be), what a dependency did (the database, DDM, Slack), what we did (a bug).

Callers catch the branch they can answer: a person's error is told to that person, a dependency's is waited
out and retried (one log line per loop, no traceback), ours is logged with its traceback. Modules keep their
own subclasses (bot.huawei.errors, the simulator's answers) under these branches.

A leaf: it imports nothing of ours, so every layer, the domain too, can raise and catch these.
"""

from __future__ import annotations


class BotError(Exception):
    """The root: every exception the bot raises on purpose."""


class PersonError(BotError):
    """What a person did wrong, or asked for what cannot be: their message says what and changes nothing."""


class DependencyError(BotError):
    """What a dependency did: it could not be reached or answered in a way we cannot use. Worth trying again."""


class InternalError(BotError):
    """What we did: a state our own rules say cannot happen. A bug: logged with its traceback."""


class Refusal(PersonError):
    """The one way a use case says no (bot.workflow.desk): raised, with a stable `code` for metrics and tests,
    the sentence for the person who asked, and the form's field to show it on when there is one. The policy
    (bot.restore.policy) returns one as its decision; the workflow raises it."""

    def __init__(self, code: str, message: str, *, field: str | None = None, quotes_ddm: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        # The message quotes names or reasons from DDM (a plan problem): shown as text, mentions and all.
        self.quotes_ddm = quotes_ddm

    def __str__(self) -> str:
        return self.message


# ---- the request repository (bot.ports.RequestRepository) ---------------------------------------------------


class StoreUnavailable(DependencyError):
    """The database could not be reached or failed mid-transaction: nothing of the change was recorded."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# What a person hears when StoreUnavailable stopped their change.
NOTHING_RECORDED = "I can't reach my database right now, so nothing was recorded. Please try again in a minute."
