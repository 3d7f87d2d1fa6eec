"""Finding requests for people (bot.workflow.lookup): a channel sees its own requests of its environment; a
request made elsewhere is told to its requester only, and another environment's to nobody."""

from __future__ import annotations

from bot.restore.environment import Environment
from bot.restore.request import RestoreRequest
from bot.workflow.lookup import request_here, requests_here
from bot.workflow.places import Place, Places
from tests.support.bench import CHANNEL, PROJECT, Bench

ELSEWHERE = "CELSEWHERE"


async def a_request(bench: Bench) -> RestoreRequest:
    return await bench.desk.create(await bench.plan(), requester_id="UALICE", channel_id=CHANNEL)


async def test_a_channel_lists_its_own_requests_only(bench: Bench) -> None:
    request = await a_request(bench)
    places = bench.desk.places
    assert [r.id for r in await requests_here(bench.desk, places, CHANNEL)] == [request.id]
    assert await requests_here(bench.desk, places, ELSEWHERE) == []


async def test_a_request_is_found_by_id_or_job_in_its_channel_and_by_its_requester_anywhere(bench: Bench) -> None:
    request = await a_request(bench)
    places = bench.desk.places
    for reference in (request.id, request.id.lower()):
        found = await request_here(bench.desk, places, reference, user_id="UBOB", channel_id=CHANNEL)
        assert found is not None and found.id == request.id
    await bench.desk.approve(request.id, "UBOB")
    running = await bench.store.get(request.id)
    assert running is not None and running.job_id
    by_job = await request_here(bench.desk, places, running.job_id, user_id="UBOB", channel_id=CHANNEL)
    assert by_job is not None and by_job.id == request.id
    mine = await request_here(bench.desk, places, request.id, user_id="UALICE", channel_id=ELSEWHERE)
    assert mine is not None and mine.id == request.id
    assert await request_here(bench.desk, places, request.id, user_id="UBOB", channel_id=ELSEWHERE) is None
    assert await request_here(bench.desk, places, "R-NOSUCH", user_id="UALICE", channel_id=CHANNEL) is None


async def test_another_environments_request_is_told_to_nobody(bench: Bench) -> None:
    request = await a_request(bench)  # in the settings' environment (project PROJECT)
    # The channel now belongs to an environment of another project; the old one serves another channel.
    old = Environment("", bench.ddm.region, PROJECT, bench.policy, frozenset({ELSEWHERE}))
    qa = Environment("qa", bench.ddm.region, "f" * 32, bench.policy, frozenset({CHANNEL}))
    moved = Places([Place(old, bench.ddm), Place(qa, bench.ddm)])
    assert await requests_here(bench.desk, moved, CHANNEL) == []
    assert await request_here(bench.desk, moved, request.id, user_id="UALICE", channel_id=CHANNEL) is None
    found = await request_here(bench.desk, moved, request.id, user_id="UALICE", channel_id=ELSEWHERE)
    assert found is not None  # its requester, in a channel of its own environment
