"""The restore workflow: create, approve, reject, cancel, expire, submit once, reconcile, follow.

Every state change goes through `RequestStore.transition` (one conditional update); side effects happen only
after winning the transition that licenses them. The POST in particular happens only after winning
APPROVED → SUBMITTING, and a request that may have been sent is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.choices import windows_of
from bot.huawei.errors import DdmApiError, DdmUnavailable, HuaweiError, InvalidInput, OutcomeUnknown
from bot.huawei.models import Job, RecoveryRequest
from bot.ports import CardNotPosted, DdmGateway, Notifier, UserDirectory
from bot.restore.ids import normalise_request_id
from bot.restore.notices import Notice
from bot.restore.plan import DataNodeMapping, NamedRef, RestorePlan
from bot.restore.policy import ApprovalPolicy, Refusal
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.timeparse import check_in_windows, duration_text
from bot.restore.timeparse import epoch_ms_of as ms
from bot.slack.blocks.messages import render_notice  # until the announcer renders the outbox's notices
from bot.store.requests import RequestStore, TargetBusy

log = logging.getLogger(__name__)
S = RequestState
SYSTEM = "system"
RESTORE_JOB_NAME = "RestoreInstance"
# How long after an unanswered POST we keep looking for its job before calling it failed.
DEFAULT_RECONCILE_DEADLINE = timedelta(minutes=15)
# An approval is executed right away; one older than this (its replica died, the bot was down) never is.
APPROVAL_MAX_AGE = timedelta(minutes=10)
UNANNOUNCED_GRACE = timedelta(seconds=2)
# A SUBMITTING request older than this (e.g. its replica died mid-POST) is treated as UNKNOWN.
DEFAULT_STALE_SUBMITTING_AFTER = timedelta(minutes=2)


class WorkflowRefused(Exception):
    """A request was refused; the message is for the person who asked."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class PlanProblem:
    field: str  # a modal block id: source_instance, restore_time, target_instance, dn_map:<id>, dn_map
    message: str


def utc_now() -> datetime:
    return datetime.now(UTC)


class RestoreService:
    def __init__(
        self,
        *,
        store: RequestStore,
        ddm: DdmGateway,
        notifier: Notifier,
        directory: UserDirectory,
        policy: ApprovalPolicy,
        clock: Callable[[], datetime] = utc_now,
        stale_submitting_after: timedelta = DEFAULT_STALE_SUBMITTING_AFTER,
        reconcile_deadline: timedelta = DEFAULT_RECONCILE_DEADLINE,
        approval_max_age: timedelta = APPROVAL_MAX_AGE,
    ) -> None:
        self.store = store
        self.stale_submitting_after = stale_submitting_after
        self.reconcile_deadline = reconcile_deadline
        self.approval_max_age = approval_max_age
        self._background: set[asyncio.Task[None]] = set()
        self.ddm = ddm
        self.notifier = notifier
        self.directory = directory
        self.policy = policy
        self.clock = clock
        # Set by the JobWatcher so the service can hand it a request that started running.
        self.on_running: Callable[[RestoreRequest], None] = lambda _request: None

    # ---- live checks shared by the modal and the pre-submit re-validation ------------------------------------

    async def check_plan_live(self, plan: RestorePlan) -> list[PlanProblem]:
        """Ask DDM whether `plan` is possible right now. Empty when it is."""
        source = plan.source.id
        try:
            windows, candidates, related = await asyncio.gather(
                self.ddm.restorable_windows(source),
                self.ddm.restorable_instances(source),
                self.ddm.related_data_nodes(source, plan.restore_time_ms),
            )
        except InvalidInput as exc:
            return [PlanProblem("restore_time", exc.message)]
        except DdmApiError as exc:
            field = "restore_time" if exc.error_code == "DBS.280001" else "source_instance"
            return [PlanProblem(field, f"DDM says {exc.error_code}: {exc.error_msg}")]
        except HuaweiError as exc:
            return [PlanProblem("source_instance", f"DDM could not be asked: {exc}")]
        problems: list[PlanProblem] = []
        window_problem = check_in_windows(plan.restore_time_ms, windows_of(windows))
        if window_problem:
            problems.append(PlanProblem("restore_time", window_problem))
        target = next((c for c in candidates if c.instance_id == plan.target.id), None)
        if plan.target.id == plan.source.id:
            problems.append(PlanProblem("target_instance", "The target must be another DDM instance than the source."))
        elif target is None:
            problems.append(PlanProblem("target_instance", f"{plan.target.label} is not a restore target for it."))
        elif not target.available:
            reason = target.unavailable_reason or "unavailable"
            problems.append(PlanProblem("target_instance", f"{target.instance_name} can't be used: {reason}."))
        if problems:
            return problems
        expected = {node.instance_id: node for node in related.related_data_nodes}
        planned = {m.source.id for m in plan.mappings}
        if set(expected) != planned:
            names = ", ".join(sorted(n.instance_name for n in expected.values())) or "none"
            return [PlanProblem("dn_map", f"At this restore point the source's data nodes are: {names}.")]
        checks = await asyncio.gather(
            *[
                self.ddm.restorable_data_nodes(
                    source,
                    target_instance_id=plan.target.id,
                    source_dn_instance_id=m.source.id,
                    restore_time=plan.restore_time_ms,
                )
                for m in plan.mappings
            ],
            return_exceptions=True,
        )
        for mapping, answer in zip(plan.mappings, checks, strict=True):
            field = f"dn_map:{mapping.source.id}"
            if isinstance(answer, HuaweiError):
                problems.append(PlanProblem(field, f"DDM could not check this data node: {answer}"))
                continue
            if isinstance(answer, BaseException):
                raise answer
            node = next((n for n in answer if n.instance_id == mapping.target.id), None)
            if node is None:
                problems.append(PlanProblem(field, f"{mapping.target.label} is not a candidate for this data node."))
            elif not node.available:
                problems.append(
                    PlanProblem(
                        field, f"{node.instance_name} can't be used: {node.unavailable_reason or 'unavailable'}."
                    )
                )
        return problems

    # ---- people's actions ----------------------------------------------------------------------------------

    def new_plan(
        self,
        *,
        source: NamedRef,
        target: NamedRef,
        restore_time_ms: int,
        mappings: tuple[DataNodeMapping, ...],
        reason: str = "",
    ) -> RestorePlan:
        """A plan for the project and region this bot restores in (part of what approvals bind to)."""
        return RestorePlan(
            project_id=self.ddm.project_id,
            region=self.ddm.region or "",
            source=source,
            target=target,
            restore_time_ms=restore_time_ms,
            mappings=mappings,
            reason=reason,
        )

    async def _check_request(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        actor = await self.directory.actor(requester_id)
        if (refusal := self.policy.can_request(actor, channel_id)) is not None:
            raise WorkflowRefused(refusal.message)
        for field, message in plan.problems():
            raise WorkflowRefused(message, field=field)

    async def precheck_create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> None:
        """Raise WorkflowRefused (with the field to blame) if `create` would refuse; changes nothing."""
        await self._check_request(plan, requester_id=requester_id, channel_id=channel_id)
        holder = await self.store.active_for_target(plan.target.id)
        if holder is not None:
            raise WorkflowRefused(
                f"{plan.target.label} is busy with {holder.id} ({holder.state.value.lower()}).",
                field="target_instance",
            )

    async def create(self, plan: RestorePlan, *, requester_id: str, channel_id: str) -> RestoreRequest:
        """Store a PENDING request and post its card. Raises WorkflowRefused with a field when impossible."""
        await self._check_request(plan, requester_id=requester_id, channel_id=channel_id)
        now = self.clock()
        try:
            request = await self.store.create(
                plan=plan,
                requester_id=requester_id,
                channel_id=channel_id,
                required_approvals=self.policy.required_approvals,
                now=now,
                expires_at=now + self.policy.ttl,
            )
        except TargetBusy as busy:
            holder = busy.holder
            raise WorkflowRefused(
                f"{plan.target.label} is busy with {holder.id} ({holder.state.value.lower()}).",
                field="target_instance",
            ) from None
        try:
            ts = await self.notifier.post_card(request)
        except CardNotPosted as exc:
            await self.store.transition(
                request.id,
                from_states=[S.PENDING],
                to=S.CANCELLED,
                actor=SYSTEM,
                action="card_not_posted",
                now=self.clock(),
                values={"decided_by": SYSTEM, "decision_note": exc.reason},
                details={"reason": exc.reason},
            )
            raise WorkflowRefused(f"I could not post the request card: {exc.reason}") from None
        permalink = await self.notifier.permalink(channel_id, ts)
        await self.store.set_message(request.id, channel_id=channel_id, message_ts=ts, permalink=permalink)
        stored = await self.store.get(request.id)
        assert stored is not None
        return stored

    async def approve(self, request_id: str, user_id: str) -> Refusal | None:
        """One approval click. Returns a refusal for the clicker, or None when it counted."""
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        actor = await self.directory.actor(user_id)
        now = self.clock()
        if (refusal := self.policy.can_approve(actor, request, now)) is not None:
            return refusal
        outcome = await self.store.add_approval(request_id, user_id=user_id, fingerprint=request.fingerprint, now=now)
        if not outcome.added:
            # Lost a race: the request moved on (or this person's first click already counted).
            return self.policy.can_approve(actor, outcome.request, now) or Refusal(
                "not_counted", f"{request_id} is no longer awaiting approval."
            )
        await self._quietly(
            self.notifier.post_in_thread(
                outcome.request,
                render_notice(
                    outcome.request,
                    Notice.APPROVAL,
                    {"user_id": user_id, "count": outcome.count, "required": outcome.request.required_approvals},
                ),
            )
        )
        if outcome.count < outcome.request.required_approvals:
            await self._quietly(self.notifier.update_card(outcome.request))
            return None
        approved = await self.store.transition(
            request_id,
            from_states=[S.PENDING],
            to=S.APPROVED,
            actor=user_id,
            action="approved",
            now=self.clock(),
            details={"approvers": list(outcome.request.approver_ids)},
        )
        if approved is not None:
            await self._quietly(self.notifier.update_card(approved))
            await self.submit(approved, announce=True)
        return None

    async def reject(self, request_id: str, user_id: str, reason: str) -> Refusal | None:
        return await self._decide(request_id, user_id, S.REJECTED, reason)

    async def cancel(self, request_id: str, user_id: str) -> Refusal | None:
        return await self._decide(request_id, user_id, S.CANCELLED, None)

    async def check_reject(self, request_id: str, user_id: str) -> Refusal | None:
        """May this person reject? (Asked before opening the reason dialog.)"""
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        return self.policy.can_reject(await self.directory.actor(user_id), request, self.clock())

    async def _decide(self, request_id: str, user_id: str, to: RequestState, note: str | None) -> Refusal | None:
        request = await self.store.get(request_id)
        if request is None:
            return Refusal("unknown_request", f"I know no request {request_id}.")
        actor = await self.directory.actor(user_id)
        check = self.policy.can_reject if to is S.REJECTED else self.policy.can_cancel
        if (refusal := check(actor, request, self.clock())) is not None:
            return refusal
        done = await self.store.transition(
            request_id,
            from_states=[S.PENDING],
            to=to,
            actor=user_id,
            action="reject" if to is S.REJECTED else "cancel",
            now=self.clock(),
            values={"decided_by": user_id, "decision_note": note},
            details={"reason": note} if note else {},
        )
        if done is None:
            latest = await self.store.get(request_id)
            state = latest.state.value.lower() if latest else "gone"
            return Refusal("not_pending", f"{request_id} is already {state}; nothing to decide.")
        # The person's answer must not wait for Slack: announce in the background.
        self._spawn(self._announce(done))
        return None

    async def expire_due(self) -> list[str]:
        """Expire every pending request whose time is up; returns their ids."""
        expired: list[str] = []
        for request_id in await self.store.due_for_expiry(self.clock()):
            done = await self.store.transition(
                request_id, from_states=[S.PENDING], to=S.EXPIRED, actor=SYSTEM, action="expire", now=self.clock()
            )
            if done is None:
                continue
            expired.append(request_id)
            await self._announce(done)
        return expired

    # ---- submitting ----------------------------------------------------------------------------------------

    async def submit(self, request: RestoreRequest, *, announce: bool = False) -> RestoreRequest | None:
        """Re-validate against the live API, win APPROVED → SUBMITTING, then POST exactly once."""
        if request.state is not S.APPROVED:
            return None
        if announce:
            await self._quietly(self.notifier.post_in_thread(request, render_notice(request, Notice.SUBMITTING, {})))
        plan = request.plan
        if not request.fingerprint_matches_plan:
            # The stored plan no longer hashes to what was approved: refuse rather than restore something else.
            return await self._fail(
                request, S.APPROVED, "PLAN_CHANGED", "the stored plan does not match its approved fingerprint."
            )
        if (plan.project_id, plan.region) != (self.ddm.project_id, self.ddm.region or ""):
            return await self._fail(
                request,
                S.APPROVED,
                "PLAN_CHANGED",
                f"it was approved for project {plan.project_id} in {plan.region or 'an unnamed region'}, but this "
                f"bot is configured for project {self.ddm.project_id} in {self.ddm.region}.",
            )
        if self.clock() - request.updated_at > self.approval_max_age:
            return await self._fail(
                request,
                S.APPROVED,
                "APPROVAL_STALE",
                f"it was approved {duration_text(self.clock() - request.updated_at)} ago and never submitted "
                "(the bot was down); an approval is only good for a prompt restore.",
            )
        problems = await self.check_plan_live(plan)
        if problems:
            return await self._fail(request, S.APPROVED, "PLAN_STALE", " ".join(p.message for p in problems))
        try:
            await self.ddm.prepare()  # a token fetch belongs before the transition, not inside the POST's time
        except HuaweiError as exc:
            return await self._fail(request, S.APPROVED, "NOT_SENT", f"DDM could not be reached: {exc}.")
        submitting = await self.store.transition(
            request.id,
            from_states=[S.APPROVED],
            to=S.SUBMITTING,
            actor=SYSTEM,
            action="submit",
            now=self.clock(),
            values={"submitted_ms": ms(self.clock())},
        )
        if submitting is None:
            return None  # another caller won: it is the one that POSTs
        body = RecoveryRequest.model_validate(submitting.plan.restore_body())
        try:
            job_id = await self.ddm.restore(submitting.plan.source.id, body)
        except OutcomeUnknown as exc:
            details: dict[str, object] = {"error": str(exc)}
            if exc.error is not None:  # a 5xx: keep the service's own code for the audit trail
                details.update(error_code=exc.error.error_code, error_msg=exc.error.error_msg)
            unknown = await self.store.transition(
                request.id,
                from_states=[S.SUBMITTING],
                to=S.UNKNOWN,
                actor=SYSTEM,
                action="outcome_unknown",
                now=self.clock(),
                values={"error_msg": str(exc)},
                details=details,
            )
            if unknown is not None:
                await self._quietly(self.notifier.update_card(unknown))
                await self._quietly(
                    self.notifier.post_in_thread(unknown, render_notice(unknown, Notice.OUTCOME_UNKNOWN, {}))
                )
                self.on_running(unknown)
            return unknown
        except DdmApiError as exc:
            return await self._fail_submit(submitting, exc.error_code, exc.error_msg)
        except (DdmUnavailable, InvalidInput) as exc:
            code = "NOT_SENT" if isinstance(exc, DdmUnavailable) else "INVALID_INPUT"
            return await self._fail_submit(submitting, code, str(exc))
        running = await self.store.transition(
            request.id,
            from_states=[S.SUBMITTING, S.UNKNOWN],
            to=S.RUNNING,
            actor=SYSTEM,
            action="job_submitted",
            now=self.clock(),
            values={"job_id": job_id, "job_progress": 0},
            details={"job_id": job_id},
        )
        if running is None:
            return None
        await self._quietly(
            self.notifier.post_in_thread(running, render_notice(running, Notice.SUBMITTED, {"region": self.ddm.region}))
        )
        await self._quietly(self.notifier.update_card(running))
        self.on_running(running)
        return running

    async def _fail_submit(self, request: RestoreRequest, code: str, message: str) -> RestoreRequest | None:
        # UNKNOWN too: a sweeper may have given up on a slow submitter that then got a definite answer.
        return await self._fail(request, (S.SUBMITTING, S.UNKNOWN), code, message, action="submit_failed")

    async def _fail(
        self,
        request: RestoreRequest,
        from_states: RequestState | tuple[RequestState, ...],
        code: str,
        message: str,
        *,
        action: str = "revalidation_failed",
    ) -> RestoreRequest | None:
        failed = await self.store.transition(
            request.id,
            from_states=from_states if isinstance(from_states, tuple) else (from_states,),
            to=S.FAILED,
            actor=SYSTEM,
            action=action,
            now=self.clock(),
            values={"error_code": code, "error_msg": message, "finished_ms": ms(self.clock())},
            details={"error_code": code, "error_msg": message},
        )
        if failed is not None:
            await self._announce(failed)
        return failed

    async def _announce(self, request: RestoreRequest) -> None:
        """The final card and thread message of a request, once. The claim is given back when Slack fails, so
        that the sweeper tries again (`announce_unannounced`) instead of the message being lost."""
        if not await self.store.claim_final_notice(request.id, self.clock()):
            return
        try:
            await self.notifier.update_card(request)
            await self.notifier.post_in_thread(request, render_notice(request, Notice.FINAL, {}))
        except Exception:
            log.warning("final notice of %s failed; it will be retried", request.id, exc_info=True)
            await self.store.release_final_notice(request.id)

    # ---- after submitting ----------------------------------------------------------------------------------

    async def reconcile(self, request: RestoreRequest) -> RestoreRequest | None:
        """For an UNKNOWN request: find its job in DDM's job list. Returns the RUNNING/FAILED request, or None
        when it is still unknown and worth asking again later."""
        submitted_at = request.submitted_at or request.updated_at
        window_start = submitted_at - timedelta(minutes=5)
        jobs = await self.ddm.jobs(max(window_start, self.clock() - timedelta(days=29)), self.clock())
        # A job another request already follows (an earlier restore of the same target) is never ours.
        claimed = {job.id for job in jobs if await self.store.find_by_job_id(job.id) is not None}
        match = pick_restore_job(
            [job for job in jobs if job.id not in claimed],
            target_instance_id=request.plan.target.id,
            source_instance_id=request.plan.source.id,
            submitted_at=submitted_at,
        )
        if match is not None:
            running = await self.store.transition(
                request.id,
                from_states=[S.UNKNOWN],
                to=S.RUNNING,
                actor=SYSTEM,
                action="reconciled",
                now=self.clock(),
                values={"job_id": match.id, "job_progress": match.percent or 0},
                details={"job_id": match.id},
            )
            if running is not None:
                await self._quietly(
                    self.notifier.post_in_thread(running, render_notice(running, Notice.RECONCILED, {}))
                )
                await self._quietly(self.notifier.update_card(running))
            return running
        if self.clock() - submitted_at < self.reconcile_deadline:
            return None
        message = f"no restore job appeared within {duration_text(self.reconcile_deadline)} of the submission" + (
            f" (DDM had answered: {request.error_msg})" if request.error_msg else ""
        )
        failed = await self.store.transition(
            request.id,
            from_states=[S.UNKNOWN],
            to=S.FAILED,
            actor=SYSTEM,
            action="reconcile_failed",
            now=self.clock(),
            values={"error_code": "NO_JOB", "error_msg": message, "finished_ms": ms(self.clock())},
        )
        if failed is not None:
            await self._announce(failed)
        return failed

    async def record_job(self, request: RestoreRequest, job: Job) -> RestoreRequest | None:
        """Apply one job poll. Returns the final request when the job ended, else None."""
        if not job.is_finished:
            percent = job.percent
            if percent is not None and await self.store.set_progress(request.id, percent):
                latest = await self.store.get(request.id)
                if latest is not None:
                    await self._quietly(self.notifier.update_card(latest))
            return None
        to = S.COMPLETED if job.succeeded else S.FAILED
        values: dict[str, object] = {"finished_ms": ms(job.end_time or self.clock())}
        if to is S.COMPLETED:
            values["job_progress"] = 100
        else:
            values.update(error_code="JOB_FAILED", error_msg=job.fail_reason or "the DDM job failed")
        done = await self.store.transition(
            request.id,
            from_states=[S.RUNNING],
            to=to,
            actor=SYSTEM,
            action="job_finished",
            now=self.clock(),
            values=values,
            details={"job_id": job.id, "status": job.status, "fail_reason": job.fail_reason},
        )
        final = done or await self.store.get(request.id)
        if final is None or not final.is_final:
            return final
        await self._announce(final)
        return final

    async def recover_stale_submitting(self) -> list[RestoreRequest]:
        """SUBMITTING requests whose submitter vanished become UNKNOWN, to be reconciled (never re-POSTed)."""
        recovered: list[RestoreRequest] = []
        for request in await self.store.in_states([S.SUBMITTING]):
            if self.clock() - request.updated_at < self.stale_submitting_after:
                continue
            unknown = await self.store.transition(
                request.id,
                from_states=[S.SUBMITTING],
                to=S.UNKNOWN,
                actor=SYSTEM,
                action="submitter_lost",
                now=self.clock(),
                values={"error_msg": "the bot stopped while submitting"},
            )
            if unknown is not None:
                await self._quietly(self.notifier.update_card(unknown))
                await self._quietly(
                    self.notifier.post_in_thread(unknown, render_notice(unknown, Notice.OUTCOME_UNKNOWN, {}))
                )
                recovered.append(unknown)
        return recovered

    async def tell_follow_trouble(self, request: RestoreRequest, problem: str) -> None:
        await self._quietly(
            self.notifier.post_in_thread(request, render_notice(request, Notice.FOLLOW_TROUBLE, {"problem": problem}))
        )

    async def stale_approved(self) -> list[RestoreRequest]:
        """APPROVED requests whose replica died before submitting (submit() is safe to call again)."""
        return [
            r
            for r in await self.store.in_states([S.APPROVED])
            if self.clock() - r.updated_at >= self.stale_submitting_after
        ]

    async def announce_unannounced(self) -> list[str]:
        """Post the final thread message of requests whose announcer died after the final transition."""
        announced: list[str] = []
        # The claim decides who announces, so the grace only saves the original announcer a wasted race.
        for request_id in await self.store.unannounced_final(self.clock() - UNANNOUNCED_GRACE):
            request = await self.store.get(request_id)
            if request is not None:
                await self._announce(request)
                announced.append(request_id)
        return announced

    # ---- lookups for people ------------------------------------------------------------------------------

    async def find(self, reference: str) -> RestoreRequest | None:
        request_id = normalise_request_id(reference)
        if request_id:
            found = await self.store.get(request_id)
            if found:
                return found
        return await self.store.find_by_job_id(reference.strip())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background announcements (shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=10)

    async def _quietly(self, awaitable: Awaitable[None]) -> None:
        """Run a notification; a Slack hiccup must not undo or block a state change already made."""
        try:
            await awaitable
        except Exception:
            log.exception("notification failed")


def pick_restore_job(
    jobs: list[Job], *, target_instance_id: str, source_instance_id: str, submitted_at: datetime
) -> Job | None:
    """The restore job created closest to our submission (2 min of clock slack before it) on our target; if the
    job list names no job on the target, one naming the source (which instance a job names is unverified)."""
    earliest = submitted_at - timedelta(minutes=2)
    restores = [
        job
        for job in jobs
        if (job.name or RESTORE_JOB_NAME) == RESTORE_JOB_NAME
        and (job.created_time is None or job.created_time >= earliest)
    ]

    def distance(job: Job) -> float:
        return abs(((job.created_time or submitted_at) - submitted_at).total_seconds())

    for instance_id in (target_instance_id, source_instance_id):
        matches = sorted((job for job in restores if job.target_instance_id == instance_id), key=distance)
        if matches:
            return matches[0]
    return None
