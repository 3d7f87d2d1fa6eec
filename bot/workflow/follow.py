"""One follower for every running restore: each poll, ONE job-list call covers all RUNNING and UNKNOWN requests.

Only the replica holding the follower lease polls; another takes over within one lease after it dies. A job
missing from the list (clock skew, paging) is read on its own. DDM allows 60 calls/min per user: following K
jobs costs one list call per interval, not K.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.ports import DdmGateway, DdmUnreachable, RequestRepository
from bot.restore.facts import JobReport, JobStatus
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice, Outgoing
from bot.restore.progress import milestone_reached
from bot.restore.request import SYSTEM, RequestState, RestoreRequest
from bot.restore.timeparse import epoch_ms_of as ms
from bot.workflow.places import Places
from bot.workflow.submit import Submitter

log = logging.getLogger(__name__)
S = RequestState
LEASE = "job-follower"
MAX_BACKOFF_SECONDS = 300.0
TROUBLE_AFTER_FAILURES = 6
# How far before a submission the job list is read (clock skew between us and DDM), and DDM's own limit.
LIST_SLACK = timedelta(minutes=5)
LIST_MAX_AGE = timedelta(days=29)


class Follower:
    def __init__(
        self,
        *,
        store: RequestRepository,
        places: Places,
        submitter: Submitter,
        clock: Callable[[], datetime],
        poll_interval: float,
        lease_seconds: float = 30.0,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.places = places
        self.submitter = submitter
        self.clock = clock
        self.poll_interval = poll_interval
        # A lease outlives a few missed polls, then another replica takes over.
        self.lease_seconds = max(lease_seconds, poll_interval * 3)
        self.owner = owner or f"follower-{uuid.uuid4().hex[:12]}"
        self.failures = 0
        self._troubled: set[str] = set()  # requests whose thread was told the job can't be read
        self._missing: dict[str, int] = {}  # failed single reads in a row, by request

    async def step(self) -> float:
        """One poll of every followed job; returns the delay until the next."""
        # Nothing to follow: no lease taken, so an idle bot writes nothing to the database every poll.
        if not await self.store.in_states([S.RUNNING, S.UNKNOWN]):
            self.failures = 0
            return self.poll_interval
        if not await self.store.leases.take(LEASE, owner=self.owner, now=self.clock(), seconds=self.lease_seconds):
            return self.poll_interval  # another replica follows; try again in case it dies
        active = await self.store.in_states([S.RUNNING, S.UNKNOWN])  # as it is now that the lease is ours
        if not active:
            return self.poll_interval
        failed = await self._poll(active)
        if failed:
            # One project's DDM failing does not stop the others' jobs from being followed (its requests wait).
            self.failures += 1
            delay = min(MAX_BACKOFF_SECONDS, self.poll_interval * float(2 ** min(self.failures, 8)))
            for requests, exc in failed:
                log.warning("following %d job(s): %s (retry in %.0f s)", len(requests), exc.message, delay)
                if self.failures >= TROUBLE_AFTER_FAILURES:
                    await self._tell_trouble(requests, exc.message)
            return delay
        self.failures = 0
        self._troubled.clear()
        return self.poll_interval

    async def _poll(self, active: list[RestoreRequest]) -> list[tuple[list[RestoreRequest], DdmUnreachable]]:
        """One job list per project (each with its own credentials) for all the jobs followed in it. Returns the
        projects whose DDM could not be read: their requests and why."""
        groups: dict[str, tuple[DdmGateway, list[RestoreRequest]]] = {}
        for request in active:
            place = self.places.for_plan(request.plan)
            if place is None:
                log.warning("%s: no environment serves project %s any more", request.id, request.plan.project_id)
                continue
            groups.setdefault(place.environment.project_id, (place.ddm, []))[1].append(request)
        failed: list[tuple[list[RestoreRequest], DdmUnreachable]] = []
        for ddm, requests in groups.values():
            try:
                await self._poll_project(ddm, requests)
            except DdmUnreachable as exc:
                failed.append((requests, exc))
        return failed

    async def _poll_project(self, ddm: DdmGateway, active: list[RestoreRequest]) -> None:
        now = self.clock()
        since = min((r.submitted_at or r.updated_at) for r in active) - LIST_SLACK
        jobs = await ddm.jobs(ms(max(since, now - LIST_MAX_AGE)), ms(now))
        by_id = {job.id: job for job in jobs}
        for request in active:
            if request.state is S.UNKNOWN:
                await self.submitter.reconcile(request, jobs)
            elif request.job_id:
                job = by_id.get(request.job_id)
                if job is None:
                    job = await self._read_alone(ddm, request, request.job_id)
                if job is not None:
                    self._missing.pop(request.id, None)
                    await self.record(request, job)

    async def _read_alone(self, ddm: DdmGateway, request: RestoreRequest, job_id: str) -> JobReport | None:
        """A job the list did not show, read on its own; its failure is this request's, not everyone's."""
        try:
            return await ddm.job(job_id)
        except DdmUnreachable as exc:
            failures = self._missing[request.id] = self._missing.get(request.id, 0) + 1
            log.warning("job %s of %s can't be read: %s", job_id, request.id, exc.message)
            if failures == TROUBLE_AFTER_FAILURES:
                await self._tell_trouble([request], exc.message)
            return None

    async def record(self, request: RestoreRequest, job: JobReport) -> RestoreRequest | None:
        """Apply what DDM says of a request's job. Returns the final request when the job ended."""
        if not job.is_finished:
            if job.percent is not None:
                await self._progress(request, job.percent)
            return None
        ended = job.ended_ms or ms(self.clock())
        details: dict[str, object] = {"job_id": job.id, "status": job.status.value, "fail_reason": job.fail_reason}
        if job.status is JobStatus.COMPLETED:
            return await self.store.transition(
                request.id,
                Event.JOB_COMPLETED,
                actor=SYSTEM,
                now=self.clock(),
                values={"finished_ms": ended, "job_progress": 100},
                details=details,
            )
        return await self.store.transition(
            request.id,
            Event.JOB_FAILED,
            actor=SYSTEM,
            now=self.clock(),
            values={
                "finished_ms": ended,
                "error_code": "JOB_FAILED",
                "error_msg": job.fail_reason or "the DDM job failed",
            },
            details=details,
        )

    async def _progress(self, request: RestoreRequest, percent: int) -> None:
        """Store a running job's progress, never backwards. A milestone (25/50/75 %) is a lifecycle move: the
        progress and the thread's notice in one transaction. It is told exactly once: only the lease holder
        follows jobs, and the milestone is judged against the progress stored right before the move."""
        if _behind(percent, request.job_progress):
            return
        if milestone_reached(request.job_progress, percent) is None:
            await self.store.set_progress(request.id, percent, now=self.clock())
            return
        fresh = await self.store.get(request.id)
        if fresh is None or fresh.state is not S.RUNNING or _behind(percent, fresh.job_progress):
            return
        milestone = milestone_reached(fresh.job_progress, percent)
        if milestone is None:
            await self.store.set_progress(request.id, percent, now=self.clock())
            return
        elapsed = self.clock() - (fresh.submitted_at or fresh.updated_at)
        await self.store.transition(
            request.id,
            Event.PROGRESS,
            actor=SYSTEM,
            now=self.clock(),
            values={"job_progress": percent},
            details={"job_id": fresh.job_id, "percent": percent, "milestone": milestone},
            params={"percent": milestone, "elapsed_s": max(0, int(elapsed.total_seconds()))},
        )

    async def _tell_trouble(self, active: list[RestoreRequest], problem: str) -> None:
        # Once per request and outage, in its thread: people must not think the restore quietly progresses.
        for request in active:
            if request.id not in self._troubled:
                await self.store.notify(
                    request.id, [Outgoing(Notice.FOLLOW_TROUBLE, {"problem": problem})], now=self.clock()
                )
                self._troubled.add(request.id)

    async def close(self) -> None:
        try:
            await self.store.leases.release(LEASE, owner=self.owner)
        except Exception:
            log.debug("could not release the follower lease")


def _behind(percent: int, stored: int | None) -> bool:
    """Nothing new: DDM's progress is not past what is stored (it never goes back on the card)."""
    return stored is not None and percent <= stored
