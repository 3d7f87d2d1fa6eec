"""The verifier on the in-memory store, the simulator and the fake Slack, on a clock the test moves: a replica
killed mid-verification leaves it to another, a target that stays abnormal fails named at its bound, and DDM
down during the verification is said once in the thread, retried, and either recovers or fails saying why."""

from __future__ import annotations

from datetime import timedelta

from bot.restore.environment import Environment
from bot.restore.notices import Notice
from bot.restore.request import RequestState, RestoreRequest
from bot.restore.verification import VerifyRule
from bot.simulator.faults import Fault
from bot.simulator.world import ORDERS_RESTORE_1_ID
from bot.workflow.places import Place, Places
from bot.workflow.verify import Verifier
from tests.support.bench import CHANNEL, Bench

S = RequestState


BOUND = timedelta(minutes=2)  # the simulator allows a signature 15 minutes of skew: the test clock stays within


def verifier(bench: Bench, *, owner: str | None = None) -> Verifier:
    """A verifier of the bench's one environment, with a short bound."""
    env = Environment("", bench.ddm.region, bench.ddm.project_id, bench.policy, verify=VerifyRule(ready_within=BOUND))
    places = Places([Place(env, bench.ddm)])
    return Verifier(store=bench.store, places=places, clock=bench.clock, poll_interval=10, owner=owner)


async def job_completed(bench: Bench) -> RestoreRequest:
    """A request approved, submitted, and its job completed: VERIFYING."""
    request = await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)
    await bench.announcer.step()
    await bench.desk.approve(request.id, "UBOB")
    bench.clock.advance(timedelta(seconds=30))  # the simulator's job takes 20 s
    await bench.follower.step()
    completed = await bench.store.get(request.id)
    assert completed is not None and completed.state is S.VERIFYING
    return completed


async def drain(bench: Bench) -> None:
    while await bench.announcer.step() == 0.0:
        pass


def thread(bench: Bench, request: RestoreRequest) -> list[str]:
    assert request.message_ts
    return [str(m.get("text")) for m in bench.fake.thread(CHANNEL, request.message_ts)]


async def state_of(bench: Bench, request: RestoreRequest) -> RestoreRequest:
    found = await bench.store.get(request.id)
    assert found is not None
    return found


async def test_a_replica_killed_mid_verification_leaves_it_to_another(bench: Bench) -> None:
    bench.sim.state.settle_seconds = 60  # the target shows RESTORE for a minute after its job
    request = await job_completed(bench)
    first = verifier(bench, owner="first")
    assert await first.step() == 10  # it holds the lease and looks: not RUNNING yet
    assert (await state_of(bench, request)).state is S.VERIFYING
    # The first replica dies here, holding the lease. Another can't verify until the lease runs out.
    second = verifier(bench, owner="second")
    assert second.lease_seconds == 30  # no SQL checks here: three polls
    instance_calls = len(bench.sim.state.calls_for("instance"))
    await second.step()
    assert (await state_of(bench, request)).state is S.VERIFYING
    assert len(bench.sim.state.calls_for("instance")) == instance_calls  # it did not even ask

    bench.clock.advance(timedelta(seconds=61))  # the lease ran out; the target settled
    await second.step()
    assert (await state_of(bench, request)).state is S.VERIFIED
    await first.step()  # back from the dead: nothing left, nothing told twice
    trail = [r.action for r in await bench.store.audit_trail(request.id)]
    assert trail.count("verified") == 1
    await drain(bench)
    texts = thread(bench, request)
    assert sum(text.startswith("✅ Verified: orders-restore-1 is RUNNING") for text in texts) == 1


async def test_a_target_that_stays_abnormal_fails_named_at_its_bound(bench: Bench) -> None:
    target = bench.sim.state.world.ddm(ORDERS_RESTORE_1_ID)
    assert target is not None
    target.after_restore = "ABNORMAL"
    request = await job_completed(bench)
    looking = verifier(bench)
    await looking.step()
    bench.clock.advance(BOUND - timedelta(seconds=1))
    await looking.step()
    assert (await state_of(bench, request)).state is S.VERIFYING  # within its bound: waiting
    bench.clock.advance(timedelta(seconds=1))
    await looking.step()
    failed = await state_of(bench, request)
    assert failed.state is S.VERIFY_FAILED and failed.error_code == "VERIFY_FAILED"
    assert failed.error_msg == "orders-restore-1 is still ABNORMAL, not RUNNING within 2 min of its restore job's end"
    await drain(bench)
    assert thread(bench, request)[-1] == (
        "⚠️ Verification failed: orders-restore-1 is still ABNORMAL, not RUNNING within 2 min of its restore job's "
        "end. <@UALICE> <@UBOB>"
    )
    dms = [c.args for c in bench.fake.calls_of("chat.postMessage") if c.args.get("channel") == "UALICE"]
    assert len(dms) == 1 and "its verification failed" in str(dms[0]["text"])


async def test_ddm_down_during_verification_is_said_once_and_retried_until_it_answers(bench: Bench) -> None:
    request = await job_completed(bench)
    bench.sim.state.faults.add(Fault(route="instance", kind="500", count=3))
    delays = [await bench.verifier.step() for _ in range(3)]
    assert delays == [20, 40, 60]  # backing off, within the bound
    assert (await state_of(bench, request)).state is S.VERIFYING
    await drain(bench)
    told = [text for text in thread(bench, request) if text.startswith("⚠️ I can't verify")]
    assert len(told) == 1 and "DDM could not be asked about the target: DBS.200412" in told[0]
    assert "I keep trying until" in told[0]

    assert await bench.verifier.step() == 10  # DDM answers again
    assert (await state_of(bench, request)).state is S.VERIFIED
    notices = [row.notice for row in await bench.store.outbox.pending(request.id)]
    assert notices == [Notice.CARD, Notice.FINAL, Notice.TARGET_ADDRESS]


async def test_ddm_down_past_the_bound_fails_saying_why(bench: Bench) -> None:
    request = await job_completed(bench)
    bench.sim.state.faults.add(Fault(route="instance", kind="500", count=100))
    looking = verifier(bench)
    await looking.step()
    bench.clock.advance(BOUND)
    await looking.step()
    failed = await state_of(bench, request)
    assert failed.state is S.VERIFY_FAILED
    assert (failed.error_msg or "").startswith(
        "the verification could not finish: DDM could not be asked about the target: DBS.200412: Server failure."
    )
