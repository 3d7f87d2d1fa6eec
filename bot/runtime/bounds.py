"""How long each call to the outside, and so each background loop's step, may take; derived from the settings.

Every outbound call has a bounded total time, its retries and waits included:

- DDM (bot.huawei.ddm): a read waits for a slot of the call budget, then gets two tries at the full connect and
  read timeouts (`Timeouts.read_deadline`); the restore POST connect + read + 5 s; an IAM token connect + read + 1 s.
- Slack: each attempt `SLACK_ATTEMPT_SECONDS`; a call with slack_sdk's retries (a connection error, a 429's
  Retry-After) `SLACK_CALL_SECONDS` in all.
- The database: PostgreSQL connects within `DB_CONNECT_SECONDS` and runs each statement within
  `DB_STATEMENT_SECONDS`; SQLite waits at most 30 s for its write lock (bot.store.engine).

A loop's step makes a few such calls; its bound is `STEP_CALLS` of its slowest call at full length, and never less
than a lease (a step holding a lease renews it). Past its bound a step is stopped (bot.runtime.supervisor): the
bound is what liveness checks, so it must cover every outage the step can meet without being a bug.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.huawei.retry import Timeouts

SLACK_ATTEMPT_SECONDS = 30.0  # slack_sdk's own default, which a shared aiohttp session would not apply
SLACK_CALL_SECONDS = 2 * SLACK_ATTEMPT_SECONDS + 15.0  # two attempts and a short Retry-After
DB_CONNECT_SECONDS = 10.0
DB_STATEMENT_SECONDS = 30.0
DB_CALL_SECONDS = DB_CONNECT_SECONDS + DB_STATEMENT_SECONDS
STEP_CALLS = 4
WATCHDOG_STEP_SECONDS = 10.0  # a look at the Socket Mode connection: no I/O (the reconnect runs beside it)


def follower_budget_wait(settings: Settings) -> float:
    """How long the follower waits for a slot of the DDM call budget: less than its lease lasts, so that a poll
    never outlives the lease (another replica would take over and both would poll)."""
    return max(1.0, settings.job_lease_seconds / 2)


def database_engine_options(url: str) -> dict[str, Any]:
    """Engine options that bound every database call (PostgreSQL; SQLite's are in bot.store.engine)."""
    if not url.startswith("postgresql"):
        return {}
    return {
        "connect_args": {"timeout": DB_CONNECT_SECONDS, "command_timeout": DB_STATEMENT_SECONDS},
        "pool_timeout": DB_CALL_SECONDS,
    }


@dataclass(frozen=True)
class Bounds:
    ddm_read: float  # one DDM read of the follower, its budget wait included
    slack_call: float
    db_call: float
    lease: float

    @classmethod
    def of(cls, settings: Settings, *, slack_call: float = SLACK_CALL_SECONDS) -> Bounds:
        timeouts = Timeouts(
            connect=settings.huaweicloud_connect_timeout_seconds, read=settings.huaweicloud_read_timeout_seconds
        )
        return cls(
            ddm_read=timeouts.read_deadline(follower_budget_wait(settings)),
            slack_call=slack_call,
            db_call=DB_CALL_SECONDS,
            lease=settings.job_lease_seconds,
        )

    def _step(self, slowest: float) -> float:
        return max(self.lease, STEP_CALLS * slowest)

    @property
    def announcer(self) -> float:
        """Claims in the database, then posts to Slack."""
        return self._step(max(self.slack_call, self.db_call))

    @property
    def homes(self) -> float:
        """One App Home: a claim and reads in the database, who the person is (Slack), then its publish."""
        return self._step(max(self.slack_call, self.db_call))

    @property
    def follower(self) -> float:
        """A lease and a read in the database, then DDM's job list."""
        return self._step(max(self.ddm_read, self.db_call))

    @property
    def sweeper(self) -> float:
        """The database only (the submits it starts run beside it)."""
        return self._step(self.db_call)

    def verifier(self, longest_check_seconds: float) -> float:
        """DDM's view of each target being verified (as the follower reads DDM), then its SQL checks, each within
        its own time limit. The lease the verifier renews before each request covers the longest check."""
        return self._step(max(self.ddm_read, self.db_call, longest_check_seconds))

    @property
    def drills(self) -> float:
        """Per drill: the database, DDM's reads of a plan, then a message to Slack (the submit runs beside it)."""
        return self._step(max(self.ddm_read, self.db_call, self.slack_call))

    @property
    def audit_head(self) -> float:
        """One read of the audit head in the database."""
        return self._step(self.db_call)


class BoundedWebClient(AsyncWebClient):
    """slack_sdk's client with every call, its retries and their waits included, within `call_seconds` in all
    (then TimeoutError, as for a single attempt that timed out)."""

    call_seconds: float = SLACK_CALL_SECONDS

    async def _request(self, *, http_verb: str, api_url: str, req_args: dict[str, Any]) -> dict[str, Any]:
        async with asyncio.timeout(self.call_seconds):
            answer: dict[str, Any] = await super()._request(http_verb=http_verb, api_url=api_url, req_args=req_args)
            return answer
