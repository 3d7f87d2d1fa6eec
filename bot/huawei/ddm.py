"""DdmClient: the DDM restore API family over `httpx.AsyncClient`, typed, validated and failure-aware.

Read calls retry on connection errors, 429 (honouring Retry-After) and 5xx with capped, jittered backoff.
The restore POST is never retried here (the API has no idempotency key): a failure before sending raises
`DdmUnavailable`, an error answer `DdmApiError`, and anything in between `OutcomeUnknown`.
With a CallBudget, every request sent (pages, retries, a 401's repeat) first takes a slot of the DDM call budget
shared by the replicas (bot.huawei.budget); a refused slot means nothing was sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.huawei.auth import TokenAuth
from bot.huawei.budget import CallBudget
from bot.huawei.errors import (
    BudgetError,
    CallInfo,
    DdmApiError,
    DdmUnavailable,
    InvalidInput,
    OutcomeUnknown,
    error_from_response,
)
from bot.huawei.inputs import RestorePoint, check_id, check_restore, restore_ms
from bot.huawei.models import (
    DatabasePage,
    DdmInstance,
    InstanceDetails,
    InstancePage,
    Job,
    JobAnswer,
    JobPage,
    LogicalDatabase,
    RecoveryAccepted,
    RecoveryRequest,
    RelatedDataNodes,
    RestorableInstance,
    RestorableInstancePage,
    RestorableWindows,
    TargetDataNode,
    TargetDataNodes,
    TimeWindow,
    first_error,
    to_epoch_ms,
)
from bot.huawei.retry import DEFAULT_RETRY, DEFAULT_TIMEOUTS, RetryPolicy, Timeouts, retry_after_seconds
from bot.huawei.tls import tls_context

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
PageT = TypeVar("PageT", bound=BaseModel)
ItemT = TypeVar("ItemT")
Clock = Callable[[], datetime]

INSTANCE_PAGE_SIZE = 128  # the service's maximum
CANDIDATE_PAGE_SIZE = 100
DATABASE_PAGE_SIZE = 128  # V1 pages: 1..128
JOB_PAGE_SIZE = 100
JOB_LIST_MAX_AGE = timedelta(days=30)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DdmClient:
    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        auth: httpx.Auth,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = _utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        region: str | None = None,
        budget: CallBudget | None = None,
        event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None = None,
    ) -> None:
        """`event_hooks`: httpx hooks run after the budget's (metrics and logs: bot.observability)."""
        check_id("project_id", project_id)
        hooks: dict[str, list[Callable[..., Any]]] = {"request": [], "response": []}
        if budget is not None:
            hooks["request"].append(budget.before_call)
        for kind, more in (event_hooks or {}).items():
            hooks.setdefault(kind, []).extend(more)
        self.project_id = project_id
        self.region = region
        self.budget = budget
        self.timeouts = timeouts
        self.submit_deadline_seconds = timeouts.submit_deadline
        # When DDM last answered this client, and when a call of it last got no answer (monotonic; readiness).
        self.answered_at: float | None = None
        self.unanswered_at: float | None = None
        self._retry = retry
        self._clock = clock
        self._sleep = sleep  # the waits between a read's tries (on the bot's clock)
        self._http = httpx.AsyncClient(
            verify=tls_context(),
            base_url=endpoint.rstrip("/"),
            auth=auth,
            timeout=timeouts.to_httpx(),
            transport=transport,
            headers={"Content-Type": "application/json", "User-Agent": "ddm-restore-bot"},
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            # Every request sent (retries, pages, a 401's repeat) takes a slot of the shared DDM call budget
            # first, then the observers see it (they log each call with DDM's request id).
            event_hooks=hooks,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> DdmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def prepare(self) -> None:
        """Get credentials ready (an IAM token) so that the next call spends its time on the call itself."""
        auth = self._http.auth
        if isinstance(auth, TokenAuth):
            await auth.provider.token()

    # ---- read calls ----------------------------------------------------------------------------------------

    async def list_instances(self) -> list[DdmInstance]:
        """Every DDM instance of the project (all pages)."""
        return await self._all_pages(
            f"/v3/{self.project_id}/instances", {}, InstancePage, lambda page: page.instances, INSTANCE_PAGE_SIZE
        )

    async def restorable_windows(self, instance_id: str) -> list[TimeWindow]:
        check_id("instance_id", instance_id)
        answer = await self._get(
            f"/v3/{self.project_id}/instances/{instance_id}/backups/restorable-time-interval",
            None,
            RestorableWindows,
        )
        return sorted(answer.restorable_time_intervals, key=lambda w: w.start_time)

    async def restorable_instances(self, instance_id: str) -> list[RestorableInstance]:
        """Target DDM candidates for a restore of `instance_id`, available or not (with the reason)."""
        check_id("instance_id", instance_id)
        return await self._all_pages(
            f"/v3/{self.project_id}/instances/{instance_id}/backups/restorable-instances",
            {},
            RestorableInstancePage,
            lambda page: page.instances,
            CANDIDATE_PAGE_SIZE,
        )

    async def related_data_nodes(self, instance_id: str, restore_time: RestorePoint) -> RelatedDataNodes:
        """The source data nodes as they were at `restore_time`."""
        check_id("instance_id", instance_id)
        ms = restore_ms(restore_time, now=self._clock())
        return await self._get(
            f"/v3/{self.project_id}/instances/{instance_id}/backups/related-dn",
            {"restore_time": ms},
            RelatedDataNodes,
        )

    async def restorable_data_nodes(
        self,
        instance_id: str,
        *,
        target_instance_id: str,
        source_dn_instance_id: str,
        restore_time: RestorePoint,
    ) -> list[TargetDataNode]:
        """Target data-node candidates for one source data node, available or not (with the reason)."""
        check_id("instance_id", instance_id)
        check_id("target_instance_id", target_instance_id)
        check_id("source_dn_instance_id", source_dn_instance_id)
        ms = restore_ms(restore_time, now=self._clock())
        answer = await self._get(
            f"/v3/{self.project_id}/instances/{instance_id}/backups/restorable-data-node",
            {
                "target_instance_id": target_instance_id,
                "source_dn_instance_id": source_dn_instance_id,
                "restore_time": ms,
            },
            TargetDataNodes,
        )
        return answer.target_data_nodes

    async def job(self, job_id: str) -> Job:
        check_id("job_id", job_id)
        answer = await self._get(f"/v3/{self.project_id}/jobs/{job_id}", None, JobAnswer)
        return answer.job

    async def jobs(self, start: datetime, end: datetime | None = None) -> list[Job]:
        """Jobs created in [start, end] (all pages). The service looks back 30 days at most."""
        end = end or self._clock()
        for name, moment in (("start", start), ("end", end)):
            if moment.tzinfo is None:
                raise InvalidInput(name, "needs a time zone (a time without one is ambiguous)")
        if start > end:
            raise InvalidInput("start", "is after end")
        if start < self._clock() - JOB_LIST_MAX_AGE:
            raise InvalidInput("start", "is more than 30 days ago; DDM keeps the job list for 30 days")
        return await self._all_pages(
            f"/v3/{self.project_id}/jobs",
            {"start_time": to_epoch_ms(start), "end_time": to_epoch_ms(end)},
            JobPage,
            lambda page: page.jobs,
            JOB_PAGE_SIZE,
        )

    async def show_instance(self, instance_id: str) -> InstanceDetails:
        """A DDM instance's details (V1): status, access address, engine version, nodes."""
        check_id("instance_id", instance_id)
        return await self._get(f"/v1/{self.project_id}/instances/{instance_id}", None, InstanceDetails)

    async def list_databases(self, instance_id: str) -> list[LogicalDatabase]:
        """The logical schemas of a DDM instance with the RDS instances each uses (V1, all pages)."""
        check_id("instance_id", instance_id)
        return await self._all_pages(
            f"/v1/{self.project_id}/instances/{instance_id}/databases",
            {},
            DatabasePage,
            lambda page: page.databases,
            DATABASE_PAGE_SIZE,
        )

    # ---- the restore ---------------------------------------------------------------------------------------

    async def restore(self, instance_id: str, body: RecoveryRequest) -> str:
        """POST .../backups/recovery once. Returns the job id. Never retried (but for one 401 token refresh)."""
        self.validate_restore(instance_id, body)
        path = f"/v3/{self.project_id}/instances/{instance_id}/backups/recovery"
        call = CallInfo(method="POST", path=path)
        try:
            # One deadline for the whole call (auth refresh and a trickling answer included), so that callers
            # can tell a lost submitter from a slow one.
            async with asyncio.timeout(self.submit_deadline_seconds):
                response = await self._http.post(path, json=body.to_wire())
        except BudgetError as exc:
            raise DdmUnavailable(f"{exc}; the restore was not sent", call=call) from None
        except TimeoutError:
            self.no_answer()
            raise OutcomeUnknown(
                f"the restore request got no answer within {self.submit_deadline_seconds:.0f} s", call=call
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self.no_answer()
            raise DdmUnavailable(
                f"DDM could not be reached, the restore was not sent ({type(exc).__name__})", call=call
            ) from None
        except httpx.HTTPError as exc:
            self.no_answer()
            raise OutcomeUnknown(
                f"the restore request was sent but no answer came back ({type(exc).__name__})", call=call
            ) from None
        self._answer(response)
        if response.is_success:
            try:
                return RecoveryAccepted.model_validate_json(response.content).job_id
            except ValidationError:
                raise OutcomeUnknown(
                    f"DDM accepted the restore (HTTP {response.status_code}) but its answer has no readable job id",
                    call=call,
                ) from None
        error = error_from_response(response)
        if response.status_code >= 500:
            # On a call that is not idempotent, a 5xx (gateway or service) does not prove nothing ran.
            raise OutcomeUnknown(f"DDM answered {error}, which does not say whether it ran", call=call, error=error)
        raise error

    def validate_restore(self, instance_id: str, body: RecoveryRequest) -> None:
        check_restore(instance_id, body, now=self._clock())

    # ---- plumbing ------------------------------------------------------------------------------------------

    async def _all_pages(
        self,
        path: str,
        params: dict[str, Any],
        model: type[PageT],
        items: Callable[[PageT], Sequence[ItemT]],
        page_size: int,
    ) -> list[ItemT]:
        """Every item of a paged list call (offset/limit; stops at `total` or a short page)."""
        found: list[ItemT] = []
        while True:
            page = await self._get(path, {**params, "offset": len(found), "limit": page_size}, model)
            batch = items(page)
            found.extend(batch)
            total = getattr(page, "total", None)
            if len(batch) < page_size or (total is not None and len(found) >= total):
                return found

    async def _get(self, path: str, params: Mapping[str, Any] | None, model: type[ModelT]) -> ModelT:
        """One read, retried as RetryPolicy says, within `Timeouts.read_deadline` in all."""
        deadline = self.timeouts.read_deadline(self.budget.current_wait() if self.budget is not None else 0.0)
        try:
            async with asyncio.timeout(deadline):
                return await self._get_tries(path, params, model)
        except TimeoutError:
            self.no_answer()
            raise DdmUnavailable(
                f"DDM did not answer within {deadline:.0f} s", call=CallInfo(method="GET", path=path)
            ) from None
        except DdmUnavailable:
            self.no_answer()
            raise
        except DdmApiError as exc:
            if exc.status >= 500:
                self.no_answer()
            raise

    async def _get_tries(self, path: str, params: Mapping[str, Any] | None, model: type[ModelT]) -> ModelT:
        call = CallInfo(method="GET", path=path)
        attempts = max(1, self._retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = await self._http.get(path, params=params)
            except (httpx.HTTPError, DdmUnavailable) as exc:
                if attempt == attempts:
                    raise DdmUnavailable(
                        f"DDM could not be reached after {attempts} tries ({type(exc).__name__})", call=call
                    ) from None
                await self._sleep(self._retry.backoff(attempt))
                continue
            self._answer(response)
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == attempts:
                    raise error_from_response(response)
                await self._sleep(self._retry_delay(response, attempt))
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            try:
                return model.model_validate_json(response.content)
            except ValidationError as exc:
                if attempt < attempts and _is_malformed_json(exc):
                    # A truncated body is usually a transient transport fault; reading is safe to repeat.
                    await self._sleep(self._retry.backoff(attempt))
                    continue
                raise DdmApiError(
                    status=response.status_code,
                    error_code="DDM.BAD_ANSWER",
                    error_msg=f"unexpected answer from {path}: {first_error(exc)}",
                    request_id=response.headers.get("X-Request-Id"),
                    call=call,
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, response: httpx.Response) -> None:
        # A 5xx is the gateway saying the service did not answer; a 429 is DDM answering "later".
        if response.status_code < 500:
            self.answered_at = time.monotonic()
        else:
            self.no_answer()

    def no_answer(self) -> None:
        """Record that a call got no answer (readiness reads it)."""
        self.unanswered_at = time.monotonic()

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), self._clock)
        if retry_after is not None:
            return min(retry_after, self._retry.max_retry_after)
        return self._retry.backoff(attempt)


def _is_malformed_json(exc: ValidationError) -> bool:
    return any(error.get("type") == "json_invalid" for error in exc.errors())
