"""The one POST: re-validate, win APPROVED → SUBMITTING (the exactly-once licence), POST, record the outcome.

A request that may have been sent (SUBMITTING, UNKNOWN) is never sent again: it is reconciled through DDM's
job list instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.errors import StoreUnavailable
from bot.observability.context import for_request
from bot.ports import DdmUnreachable, RequestRepository
from bot.restore.facts import Accepted, JobReport, NotSent, Refused, SubmitOutcome, Unknown
from bot.restore.lifecycle import Event
from bot.restore.request import SYSTEM, RequestState, RestoreRequest
from bot.restore.timeparse import duration_text
from bot.restore.timeparse import epoch_ms_of as ms
from bot.workflow.live import check_live
from bot.workflow.places import Places

log = logging.getLogger(__name__)
S = RequestState
RESTORE_JOB_NAME = "RestoreInstance"
# How long after an unanswered POST we keep looking for its job before calling it failed.
DEFAULT_RECONCILE_DEADLINE = timedelta(minutes=15)
# An approval is executed right away; one older than this (its replica died, the bot was down) never is.
APPROVAL_MAX_AGE = timedelta(minutes=10)
# A SUBMITTING request older than this (e.g. its replica died mid-POST) is treated as UNKNOWN.
DEFAULT_STALE_SUBMITTING_AFTER = timedelta(minutes=2)
# The re-check's reads besides one per data node: the window, the targets, the source's data nodes.
RECHECK_READS = 3
# After the POST, how long to keep trying to record DDM's answer through a database outage (about a minute).
RECORD_RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class Submitter:
    def __init__(
        self,
        *,
        store: RequestRepository,
        places: Places,
        clock: Callable[[], datetime],
        stale_submitting_after: timedelta = DEFAULT_STALE_SUBMITTING_AFTER,
        reconcile_deadline: timedelta = DEFAULT_RECONCILE_DEADLINE,
        approval_max_age: timedelta = APPROVAL_MAX_AGE,
    ) -> None:
        self.store = store
        self.places = places
        self.clock = clock
        self.stale_submitting_after = stale_submitting_after
        self.reconcile_deadline = reconcile_deadline
        self.approval_max_age = approval_max_age
        self._in_flight: set[str] = set()  # requests this replica is submitting now

    @for_request
    async def submit(self, request: RestoreRequest) -> RestoreRequest | None:
        """Re-validate against the live API, win APPROVED → SUBMITTING, then POST exactly once."""
        if request.state is not S.APPROVED or request.id in self._in_flight:
            return None  # this replica is already on it (e.g. the sweeper found it while the click's submit waits)
        self._in_flight.add(request.id)
        try:
            return await self._submit(request)
        finally:
            self._in_flight.discard(request.id)

    async def _submit(self, request: RestoreRequest) -> RestoreRequest | None:
        plan = request.plan
        if not request.fingerprint_matches_plan:
            # The stored plan no longer hashes to what was approved: refuse rather than restore something else.
            return await self._refuse(
                request, "PLAN_CHANGED", "the stored plan does not match its approved fingerprint."
            )
        place = self.places.for_plan(plan)
        if place is None:
            served = "; ".join(f"project {p.environment.project_id} in {p.environment.region}" for p in self.places.all)
            where = f" (environment {plan.environment})" if plan.environment else ""
            return await self._refuse(
                request,
                "PLAN_CHANGED",
                f"it was approved for project {plan.project_id} in {plan.region or 'an unnamed region'}{where}, "
                f"but this bot is configured for {served}.",
            )
        ddm = place.ddm
        age = self.clock() - request.updated_at
        if age > self.approval_max_age:
            return await self._refuse(
                request,
                "APPROVAL_STALE",
                f"it was approved {duration_text(age)} ago and never submitted (the bot was down); an approval is "
                "only good for a prompt restore.",
            )
        try:
            # The token and the budget for the re-check's reads and the POST, in one go, before any of them.
            await ddm.prepare(calls=RECHECK_READS + len(plan.mappings) + 1)
        except DdmUnreachable as exc:
            return await self._refuse(request, "NOT_SENT", f"DDM could not be reached: {exc.message}.")
        problems, _facts = await check_live(ddm, plan, names=False)  # names were fixed at create
        if problems:
            return await self._refuse(request, "PLAN_STALE", " ".join(p.message for p in problems))
        submitting = await self.store.transition(
            request.id, Event.SUBMIT, actor=SYSTEM, now=self.clock(), values={"submitted_ms": ms(self.clock())}
        )
        if submitting is None:
            return None  # another caller won: it is the one that POSTs
        outcome = await ddm.submit(submitting.plan)
        return await self._record(request, outcome, region=place.environment.region)

    async def _record(self, request: RestoreRequest, outcome: SubmitOutcome, *, region: str) -> RestoreRequest | None:
        """Write what DDM answered. The POST has happened: a database hiccup now must not lose its job id, so the
        write is tried again for a while (meanwhile the request stays SUBMITTING, which is never re-sent)."""
        for wait in (*RECORD_RETRY_WAITS, None):
            try:
                return await self._record_once(request, outcome, region=region)
            except StoreUnavailable:
                if wait is None:
                    log.error("the answer to the POST of %s could not be recorded: %r", request.id, outcome)
                    raise
                log.warning("recording the answer to the POST of %s failed; again in %.0f s", request.id, wait)
                await asyncio.sleep(wait)
        return None

    async def _record_once(
        self, request: RestoreRequest, outcome: SubmitOutcome, *, region: str
    ) -> RestoreRequest | None:
        now = self.clock()
        match outcome:
            case Accepted(job_id=job_id):
                return await self.store.transition(
                    request.id,
                    Event.JOB_SUBMITTED,
                    actor=SYSTEM,
                    now=now,
                    # The job's start: DDM's answer naming it, on our clock (bot.restore.figures).
                    values={"job_id": job_id, "job_progress": 0, "job_started_ms": ms(now)},
                    details={"job_id": job_id},
                    params={"region": region},
                )
            case Refused(code=code, message=message) | NotSent(code=code, message=message):
                return await self.store.transition(
                    request.id,
                    Event.SUBMIT_FAILED,
                    actor=SYSTEM,
                    now=now,
                    values={"error_code": code, "error_msg": message, "finished_ms": ms(now)},
                    details={"error_code": code, "error_msg": message},
                )
            case Unknown(message=message, code=code, detail=detail):
                details: dict[str, object] = {"error": message}
                if code is not None:  # a 5xx: keep the service's own code for the audit trail
                    details.update(error_code=code, error_msg=detail)
                return await self.store.transition(
                    request.id,
                    Event.OUTCOME_UNKNOWN,
                    actor=SYSTEM,
                    now=now,
                    values={"error_msg": message},
                    details=details,
                )
        raise AssertionError(f"unexpected outcome {outcome!r}")

    async def _refuse(self, request: RestoreRequest, code: str, message: str) -> RestoreRequest | None:
        now = self.clock()
        return await self.store.transition(
            request.id,
            Event.REVALIDATION_FAILED,
            actor=SYSTEM,
            now=now,
            values={"error_code": code, "error_msg": message, "finished_ms": ms(now)},
            details={"error_code": code, "error_msg": message},
        )

    @for_request
    async def reconcile(self, request: RestoreRequest, jobs: Sequence[JobReport]) -> RestoreRequest | None:
        """For an UNKNOWN request: find its job among `jobs` (DDM's job list). Returns the RUNNING/FAILED request,
        or None when it is still unknown and worth asking again later."""
        submitted_at = request.submitted_at or request.updated_at
        # A job another request already follows (an earlier restore of the same target) is never ours.
        unclaimed = [job for job in jobs if await self.store.find_by_job_id(job.id) is None]
        # A job naming the source can only be ours when no other unsettled submission shares that source.
        unsettled = await self.store.in_states([S.SUBMITTING, S.UNKNOWN])
        alone = not any(r.id != request.id and r.plan.source.id == request.plan.source.id for r in unsettled)
        match = pick_restore_job(
            unclaimed,
            target_instance_id=request.plan.target.id,
            source_instance_id=request.plan.source.id if alone else None,
            submitted_ms=ms(submitted_at),
        )
        now = self.clock()
        if match is not None:
            return await self.store.transition(
                request.id,
                Event.RECONCILED,
                actor=SYSTEM,
                now=now,
                # The answer was lost: the job started when DDM made it, as its job list says (else: now).
                values={
                    "job_id": match.id,
                    "job_progress": match.percent or 0,
                    "job_started_ms": match.created_ms or ms(now),
                },
                details={"job_id": match.id},
            )
        if now - submitted_at < self.reconcile_deadline:
            return None
        message = f"no restore job appeared within {duration_text(self.reconcile_deadline)} of the submission" + (
            f" (DDM had answered: {request.error_msg})" if request.error_msg else ""
        )
        return await self.store.transition(
            request.id,
            Event.RECONCILE_FAILED,
            actor=SYSTEM,
            now=now,
            values={"error_code": "NO_JOB", "error_msg": message, "finished_ms": ms(now)},
        )

    async def recover_stale_submitting(self) -> list[RestoreRequest]:
        """SUBMITTING requests whose submitter vanished become UNKNOWN, to be reconciled (never re-POSTed)."""
        recovered: list[RestoreRequest] = []
        for request in await self.store.in_states([S.SUBMITTING]):
            if self.clock() - request.updated_at < self.stale_submitting_after:
                continue
            unknown = await self.store.transition(
                request.id,
                Event.SUBMITTER_LOST,
                actor=SYSTEM,
                now=self.clock(),
                values={"error_msg": "the bot stopped while submitting"},
            )
            if unknown is not None:
                recovered.append(unknown)
        return recovered

    async def stale_approved(self) -> list[RestoreRequest]:
        """APPROVED requests whose replica died before submitting (submit() is safe to call again)."""
        return [
            r
            for r in await self.store.in_states([S.APPROVED])
            if self.clock() - r.updated_at >= self.stale_submitting_after
        ]


def pick_restore_job(
    jobs: Sequence[JobReport], *, target_instance_id: str, source_instance_id: str | None, submitted_ms: int
) -> JobReport | None:
    """Our restore job among DDM's: a RestoreInstance job created after our submission (2 min of clock slack
    before it) on our target, the closest in time. Which instance the job list names for a restore is
    unverified: when it names no job on the target, a job naming the source is taken only if it is the one such
    job (and the caller passes the source only when no other unsettled submission shares it). A job whose name
    or creation time DDM left out is never guessed to be ours."""
    earliest = submitted_ms - 120_000
    restores = [
        job
        for job in jobs
        if job.name == RESTORE_JOB_NAME and job.created_ms is not None and job.created_ms >= earliest
    ]

    def distance(job: JobReport) -> int:
        return abs((job.created_ms or submitted_ms) - submitted_ms)

    on_target = sorted((job for job in restores if job.instance_id == target_instance_id), key=distance)
    if on_target:
        return on_target[0]
    on_source = [job for job in restores if source_instance_id is not None and job.instance_id == source_instance_id]
    return on_source[0] if len(on_source) == 1 else None
