"""The verifier: every restore whose job completed (VERIFYING) is proven before its final word.

Each pass, for each VERIFYING request: DDM's details of the target until it is RUNNING again, then the data nodes
its logical schemas use against the approved mapping, then the environment's SQL checks (each within its time
limit). The verdict is a lifecycle move (VERIFIED | VERIFY_FAILED) with its audit record and its notices.

Bounded: `ready_within` (the environment's) counts from when the job's end was recorded, the request's last
change (a VERIFYING request is not changed until its verification ends). A target not RUNNING by then fails,
named; a verification that can't finish (DDM unreachable, the account refused) is said in the thread once, tried
again, and fails at the bound saying why: never dropped. A target that is RUNNING is always checked at least once.

Only the replica holding the verifier lease verifies; it renews the lease before each request and each check, so a
replica killed mid-verification leaves it to another within one lease. Checks are read-only, so one that ran
twice across a takeover harms nothing; the verdict is one conditional move, told once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from bot.ports import DdmUnreachable, RequestRepository, TargetUnreachable
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice, Outgoing, ParamValue
from bot.restore.request import SYSTEM, RequestState, RestoreRequest
from bot.restore.timeparse import epoch_ms_of as ms
from bot.restore.verification import (
    CheckResult,
    TargetDetails,
    Verdict,
    VerifyRule,
    compare_mapping,
    could_not_finish,
    not_ready,
)
from bot.workflow.places import Place, Places

log = logging.getLogger(__name__)
LEASE = "target-verifier"
MAX_BACKOFF_SECONDS = 60.0  # short: the bound is minutes, and a retry after it would come too late
LEASE_MARGIN_SECONDS = 15.0


class _LeaseLost(Exception):
    """Another replica took the verifier lease: stop at once, it carries on."""


class _Unfinished(Exception):
    """This pass could not finish the verification; `problem` says why (for people), `kind` which step stopped
    (the thread hears once per kind: DDM's messages differ from one try to the next by their request ids)."""

    def __init__(self, kind: str, problem: str, details: TargetDetails | None = None) -> None:
        super().__init__(problem)
        self.kind = kind
        self.problem = problem
        self.details = details


class Verifier:
    def __init__(
        self,
        *,
        store: RequestRepository,
        places: Places,
        clock: Callable[[], datetime],
        poll_interval: float,
        lease_seconds: float = 30.0,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.places = places
        self.clock = clock
        self.poll_interval = poll_interval
        # The lease outlives a few missed polls and the longest check, then another replica takes over.
        checked = [p.environment.verify for p in places.all if p.environment.verify.checks]
        longest = max((rule.timeout_seconds + LEASE_MARGIN_SECONDS for rule in checked), default=0.0)
        self.lease_seconds = max(lease_seconds, poll_interval * 3, longest)
        self.owner = owner or f"verifier-{uuid.uuid4().hex[:12]}"
        self.failures = 0
        self._troubled: dict[str, str] = {}  # request -> the kind of trouble its thread was told of

    async def step(self) -> float:
        """One pass over every request being verified; returns the delay until the next."""
        # Nothing to verify: no lease taken, so an idle bot writes nothing to the database every poll.
        if not await self.store.in_states([RequestState.VERIFYING]):
            self._forget(())
            self.failures = 0
            return self.poll_interval
        if not await self._hold():
            return self.poll_interval  # another replica verifies; try again in case it dies
        verifying = await self.store.in_states([RequestState.VERIFYING])  # as it is now that the lease is ours
        unfinished = 0
        try:
            for request in verifying:
                await self._renew()
                if not await self.verify(request):
                    unfinished += 1
        except _LeaseLost:
            log.info("the verifier lease went to another replica; it carries on")
            return self.poll_interval
        self._forget(request.id for request in verifying)
        if not unfinished:
            self.failures = 0
            return self.poll_interval
        self.failures += 1
        return min(MAX_BACKOFF_SECONDS, self.poll_interval * float(2 ** min(self.failures, 8)))

    async def verify(self, request: RestoreRequest) -> bool:
        """One look at one request: its verdict when there is one. False when it could not finish this time."""
        place = self.places.for_plan(request.plan)
        rule = place.environment.verify if place is not None else VerifyRule()
        started = request.updated_at
        deadline = started + rule.ready_within
        try:
            if place is None:
                raise _Unfinished("place", f"no environment serves project {request.plan.project_id} any more")
            details = await self._details(place, request)
            if not details.running:
                if self.clock() < deadline:
                    return True  # not yet: looked at again next pass
                target = request.plan.target.label
                problem = not_ready(target, details.status, rule.ready_within)
                await self._end(request, Verdict(details, problems_before=(problem,)))
                return True
            verdict = await self._verdict(place, rule, request, details)
        except _Unfinished as exc:
            if self.clock() < deadline:
                await self._tell_trouble(request, exc, deadline)
                log.warning("verifying %s can't finish yet: %s", request.id, exc.problem)
                return False
            details = exc.details or TargetDetails(status=None)
            await self._end(request, Verdict(details, problems_before=(could_not_finish(exc.problem),)))
            return True
        await self._end(request, verdict)
        return True

    async def _details(self, place: Place, request: RestoreRequest) -> TargetDetails:
        try:
            return await place.ddm.instance_details(request.plan.target.id)
        except DdmUnreachable as exc:
            raise _Unfinished("ddm", f"DDM could not be asked about the target: {exc.message}") from None

    async def _verdict(
        self, place: Place, rule: VerifyRule, request: RestoreRequest, details: TargetDetails
    ) -> Verdict:
        """The data nodes and the SQL checks of a RUNNING target."""
        try:
            nodes = await place.ddm.schema_data_nodes(request.plan.target.id)
        except DdmUnreachable as exc:
            raise _Unfinished("ddm", f"DDM could not list the target's schemas: {exc.message}", details) from None
        mapping = compare_mapping(request.plan, nodes)
        results: list[CheckResult] = []
        if rule.checks:
            if place.probe is None:
                raise _Unfinished("sql", "no account is set up for the SQL checks", details)
            host, port = details.access_ip, details.port
            if not host or port is None:
                raise _Unfinished("address", "DDM shows no usable access address for the target", details)
            for check in rule.checks:
                await self._renew()
                try:
                    results.append(await place.probe.run(host, port, check, limit_seconds=rule.timeout_seconds))
                except TargetUnreachable as exc:
                    raise _Unfinished("sql", f"the SQL checks can't run: {exc.message}", details) from None
        return Verdict(details, mapping, tuple(results))

    async def _end(self, request: RestoreRequest, verdict: Verdict) -> None:
        event = Event.VERIFIED if verdict.passed else Event.VERIFY_FAILED
        values = None if verdict.passed else {"error_code": "VERIFY_FAILED", "error_msg": verdict.problems_text()}
        moved = await self.store.transition(
            request.id,
            event,
            actor=SYSTEM,
            now=self.clock(),
            values=values,
            details=verdict.audit(),
            params=verdict.params(),
        )
        if moved is not None:
            log.info("%s: %s", request.id, "verified" if verdict.passed else f"verification failed: {verdict.problems}")
        self._troubled.pop(request.id, None)

    async def _tell_trouble(self, request: RestoreRequest, unfinished: _Unfinished, deadline: datetime) -> None:
        # Once per request and kind of trouble, in its thread: people must not think the verification hangs.
        if self._troubled.get(request.id) == unfinished.kind:
            return
        params: dict[str, ParamValue] = {"problem": unfinished.problem, "until_ms": ms(deadline)}
        await self.store.notify(request.id, [Outgoing(Notice.VERIFY_TROUBLE, params)], now=self.clock())
        self._troubled[request.id] = unfinished.kind

    def _forget(self, present: Iterable[str]) -> None:
        keep = set(present)
        for request_id in list(self._troubled):
            if request_id not in keep:
                del self._troubled[request_id]

    async def _hold(self) -> bool:
        return await self.store.leases.take(LEASE, owner=self.owner, now=self.clock(), seconds=self.lease_seconds)

    async def _renew(self) -> None:
        if not await self._hold():
            raise _LeaseLost

    async def close(self) -> None:
        try:
            await self.store.leases.release(LEASE, owner=self.owner)
        except Exception:
            log.debug("could not release the verifier lease")
