"""`run`: refuse bad settings in one line each, check the database and Slack, build the runtime, serve.

A signal at any point stops it within seconds: during the checks and the build by cancelling them, while
serving through serve()'s graceful stop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.serving.preflight import SlackFacts, StartupError, check_database, check_slack, settings_findings
from bot.serving.serve import bind, install_signal_handlers, serve, until_stopped
from bot.store.migrate import shown_url

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger("bot")


async def run(settings: Settings, *, simulate: bool, credentials: object = None) -> int:
    """Run the bot until SIGTERM/SIGINT. `credentials` (simulate only) are the ones the simulator accepts."""
    problems = [finding.text for finding in settings_findings(settings, huawei=not simulate)]
    if problems:
        raise ConfigError("\n".join(problems))
    stop = asyncio.Event()
    install_signal_handlers(stop)
    async with AsyncExitStack() as exits:
        started = await until_stopped(stop, _start(settings, exits, simulate=simulate, credentials=credentials))
        if started is None:
            log.info("stopped during start-up")
            return 0
        settings, facts, sock = started
        runtime = await until_stopped(stop, _build(settings))
        if runtime is None:
            log.info("stopped during start-up")
            return 0
        await serve(runtime, stop, sock=sock, on_ready=lambda: log.info("%s", ready_line(settings, facts)))
    return 0


async def _start(
    settings: Settings, exits: AsyncExitStack, *, simulate: bool, credentials: object
) -> tuple[Settings, SlackFacts, socket.socket]:
    # The port first (both modes serve /healthz, /readyz and /metrics): a port in use is the cheapest thing to
    # find out.
    sock = bind("0.0.0.0", settings.port)
    exits.callback(sock.close)
    database = await check_database(settings.database_url)
    if not database.ok:
        raise StartupError(database.text)
    from bot.clients import slack_client_from

    client = slack_client_from(settings)
    findings, facts = await check_slack(
        settings, client, attempts=settings.slack_connect_attempts, backoff=settings.slack_retry_backoff_seconds
    )
    for finding in findings:
        if not finding.ok:
            raise StartupError(finding.text)
    assert facts is not None
    if simulate:
        from bot.simulator.server import RunningSimulator

        simulator = await exits.enter_async_context(RunningSimulator(credentials=credentials))  # type: ignore[arg-type]
        settings = settings.model_copy(
            update={"huaweicloud_ddm_endpoint": simulator.base_url, "huaweicloud_iam_endpoint": simulator.base_url}
        )
        log.info("DDM simulator running at %s (demo world)", simulator.base_url)
    return settings, facts, sock


async def _build(settings: Settings) -> Runtime:
    from bot.app import build_runtime

    runtime = await build_runtime(settings)
    # What start-up allocated lives for the whole run: keep it out of full collections (long pauses).
    gc.freeze()
    return runtime


def ready_line(settings: Settings, facts: SlackFacts) -> str:
    mode = (
        f"HTTP on port {settings.port}"
        if settings.slack_mode == "http"
        else f"Socket Mode, probes on port {settings.port}"
    )
    approvers = list(settings.approver_user_ids)
    approvers += [
        f"{group} ({len(facts.group_members.get(group, []))} members)" for group in settings.approver_usergroup_ids
    ]
    return (
        f"ready: {mode}, workspace {facts.team} ({facts.team_id}), database {shown_url(settings.database_url)}, "
        f"project {settings.huaweicloud_sdk_project_id} in {settings.huaweicloud_region} at {settings.ddm_endpoint}, "
        f"approvers {', '.join(approvers)} ({settings.required_approvals} needed)"
    )
