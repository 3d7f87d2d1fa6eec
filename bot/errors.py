"""One small tree of the bot's own exceptions, by whose doing a failure is: what a person did wrong (or asked
for what cannot be), what a dependency did (the database, DDM, Slack), what we did (a bug).

Callers catch the branch they can answer: a person's error is told to that person, a dependency's is waited
out and retried (one log line per loop, no traceback), ours is logged with its traceback. Imports nothing of
ours but the domain, so every layer can raise and catch these.
"""

from __future__ import annotations

from bot.restore.request import RestoreRequest


class BotError(Exception):
    """The root: every exception the bot raises on purpose."""


class PersonError(BotError):
    """What a person did wrong, or asked for what cannot be: their message says what and changes nothing."""


class DependencyError(BotError):
    """What a dependency did: it could not be reached or answered in a way we cannot use. Worth trying again."""


class InternalError(BotError):
    """What we did: a state our own rules say cannot happen. A bug: logged with its traceback."""


# ---- the request repository (bot.ports.RequestRepository) ---------------------------------------------------


class StoreUnavailable(DependencyError):
    """The database could not be reached or failed mid-transaction: nothing of the change was recorded."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TargetBusy(PersonError):
    """Another active request holds the plan's target instance (one active restore per target)."""

    def __init__(self, holder: RestoreRequest) -> None:
        super().__init__(f"{holder.plan.target.label} is busy with {holder.id} ({holder.state.value.lower()})")
        self.holder = holder


# What a person hears when StoreUnavailable stopped their change.
NOTHING_RECORDED = "I can't reach my database right now, so nothing was recorded. Please try again in a minute."
