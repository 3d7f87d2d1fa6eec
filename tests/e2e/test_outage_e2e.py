"""The whole bot while its PostgreSQL database goes away (closed to connections, sessions ended): the loops live
on and catch up, people who click are told that nothing was recorded, and afterwards everything is as consistent
as before. The outage lasts as long as the test's clock says: an hour passes in it at once."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import NOTHING_RECORDED
from bot.restore.request import RequestState
from tests.support.harness import running_bot, until
from tests.support.http import local_http
from tests.support.pg_outage import outage_database

S = RequestState


async def test_the_sweeper_outlives_an_outage_and_expires_on_time(tmp_path: Path, postgres_url: str) -> None:
    async with outage_database() as db, running_bot(tmp_path, database_url=db.url) as h:
        request = await h.request_restore()
        async with db.down():
            sweeper = h.runtime.supervisor.loops["sweeper"]
            await until(lambda: sweeper.failures or None, 10, lambda: "the sweeper never failed")
            h.clock.advance(timedelta(minutes=61))  # the request's TTL (60 min) runs out in the outage
            failed = sweeper.failures  # the jump wakes the loop: health is read once it has tried again
            await until(lambda: sweeper.failures > failed or None, 10, lambda: "the sweeper never tried again")
            async with local_http() as http:
                health = await http.get(h.url.replace("/slack/events", "/healthz"))
                ready = await http.get(h.url.replace("/slack/events", "/readyz"))
            # Failing for the database is alive (it backs off and tries again; a restart would cure nothing): the
            # outage is readiness's to tell.
            assert health.status_code == 200 and health.json()["loops"]["sweeper"]["failures"] >= 1
            assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]
        # Back: the loops' backoffs pass on the bot's clock; the expiry is applied and told.
        expired = await h.fast_forward(h.wait_request(lambda r: r.state is S.EXPIRED, request_id=request.id))
        await h.fast_forward(h.wait_thread(expired, "expired"))
        await until(lambda: h.runtime.health()[0] or None, 10, lambda: f"never healthy again: {h.runtime.health()}")
        # It recovered: a cycle finished (healthy is true while the step that expired it still reads on).
        await until(lambda: sweeper.failures == 0 or None, 10, lambda: f"never recovered: {sweeper.last_error}")


async def test_a_click_during_an_outage_is_answered_and_changes_nothing(tmp_path: Path, postgres_url: str) -> None:
    async with outage_database() as db, running_bot(tmp_path, database_url=db.url) as h:
        request = await h.request_restore()
        async with db.down():
            await h.click("approve_request", request, user="UBOB")
            told = await h.fake.wait_for(
                "chat.postEphemeral", lambda c: c.args["user"] == "UBOB" and NOTHING_RECORDED in c.args["text"]
            )
            assert told.args["channel"] == request.channel_id  # told where the click was
            await h.command("list", user="UALICE")
            await h.fake.wait_for("response_url:UALICE", lambda c: NOTHING_RECORDED in c.args["text"])
        after = await h.runtime.store.get(request.id)
        assert after is not None and after.state is S.PENDING and after.approvals == ()
        assert not any("approved" in t for t in h.thread_texts(request))
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "Restore completed", timeout=30)
        assert sum("approved (1/1)" in t for t in h.thread_texts(request)) == 1


LOOPS = ("announcer", "sweeper", "follower")
FAILURE_LINE = re.compile(r"^(\w+): the database is unreachable \((\w+)\); again in (\d+\.\d) s$")


async def test_an_outage_is_one_line_per_loop_failure_and_no_traceback(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with outage_database() as db, running_bot(tmp_path, database_url=db.url) as h:
        request = await h.request_restore()
        caplog.clear()
        async with db.down():

            def failed_twice() -> dict[str, object] | None:
                loops = h.runtime.health()[1]
                return loops if all(loops[name]["failures"] >= 2 for name in LOOPS) else None

            await until(failed_twice, 20, lambda: f"the loops did not fail twice: {h.runtime.health()[1]}")
            loops = h.runtime.health()[1]  # and the lines logged up to this very moment (no await between)
            lines = [r for r in caplog.records if r.name == "bot.runtime.supervisor"]
            for name in LOOPS:
                said = [r.getMessage() for r in lines if r.getMessage().startswith(f"{name}: ")]
                assert len(said) == loops[name]["failures"], (name, said, loops[name])
                assert all(FAILURE_LINE.match(line) for line in said), said
        await h.click("approve_request", request, user="UBOB")
        await h.wait_thread(request, "Restore completed", timeout=30)
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [(r.name, r.getMessage()) for r in tracebacks]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
