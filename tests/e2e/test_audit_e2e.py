"""The audit head in the running bot's log: its first line comes at start-up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.store.audit_chain import current_head
from tests.support.harness import running_bot, until

HEAD_LOGGER = "bot.observability.audit_head"


def head_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == HEAD_LOGGER]


async def test_the_bot_logs_the_head_when_it_starts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=HEAD_LOGGER)
    async with running_bot(tmp_path) as bot:
        await until(lambda: head_lines(caplog) or None, 10, lambda: "no head line at start")
        assert "audit_head" in bot.runtime.supervisor.loops
        head = await current_head(bot.runtime.store)
        assert head is not None
        assert head_lines(caplog)[0].getMessage() == f"audit head seq={head.seq or 0} hash={head.hash}"
