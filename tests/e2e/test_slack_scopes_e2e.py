"""A missing history scope, with the bot running: never a post made twice, and an ERROR saying which scope."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.playground.slack_scopes import manifest_scopes
from tests.support.harness import CHANNEL, running_bot, until


async def test_without_channels_history_a_retried_card_waits_and_says_which_scope(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The card's answer is lost; the look-up that must come before posting it again is refused (missing_scope):
    no second card, an ERROR naming channels:history on each try, and once the scope is granted the card is found
    where it is and the request goes on."""
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as h:
        h.fake.scopes = manifest_scopes() - {"channels:history"}
        h.fake.drop_next("chat.postMessage", when=lambda args: args["metadata"]["event_type"] == "ddm_restore_card")
        view_id = await h.open_form()
        await h.choose_source(view_id)
        await h.submit_step1(view_id)
        pushed = h.top_view[view_id]
        assert pushed
        await h.submit_view(pushed, h.suggested_state(await h.wait_step2(pushed)))
        await h.fake.wait_for("conversations.history", lambda c: c.error == "missing_scope")

        def scope_errors() -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if r.levelno == logging.ERROR and "channels:history" in r.getMessage()
            ]

        await until(lambda: scope_errors() or None, 5, lambda: "no ERROR naming channels:history")
        assert "Slack refused conversations.history: the app lacks the channels:history scope" in scope_errors()[0]
        # Another try, refused again (its backoff passes on the bot's clock): still one card, never posted blind.
        await h.fast_forward(until(lambda: scope_errors()[1:] or None, 5, lambda: "no second try"))
        assert len(h.fake.messages[CHANNEL]) == 1
        pending = await h.runtime.store.recent(1)
        assert pending[0].message_ts is None

        h.fake.scopes = manifest_scopes()
        request = await h.fast_forward(h.wait_request(lambda r: r.message_ts is not None))
        assert [m["ts"] for m in h.fake.messages[CHANNEL]] == [request.message_ts]
