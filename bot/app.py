"""Composition root: settings -> clients -> store -> service -> AsyncApp, and the two ways to serve Slack."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import RestoreChoices
from bot.config import Settings
from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
from bot.huawei.budget import CallBudget, credential_key
from bot.huawei.ddm import DdmClient, Timeouts
from bot.huawei.gateway import HuaweiDdmGateway
from bot.jobs import JobWatcher
from bot.restore.policy import ApprovalPolicy
from bot.service import RestoreService
from bot.slack.directory import SlackDirectory
from bot.slack.listeners import Deps, register_all
from bot.slack.notifier import SlackNotifier
from bot.store.budget import BudgetTable
from bot.store.requests import RequestStore
from bot.sweeper import Sweeper
from bot.tasks import TaskRunner

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def policy_from(settings: Settings) -> ApprovalPolicy:
    return ApprovalPolicy(
        approver_user_ids=frozenset(settings.approver_user_ids),
        approver_group_ids=frozenset(settings.approver_usergroup_ids),
        required_approvals=settings.required_approvals,
        allow_self_approval=settings.allow_self_approval,
        ttl=timedelta(minutes=settings.approval_ttl_minutes),
        requester_user_ids=frozenset(settings.requester_user_ids),
        requester_group_ids=frozenset(settings.requester_usergroup_ids),
        allowed_channel_ids=frozenset(settings.allowed_channel_ids),
    )


def ddm_client_from(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None, *, budget: CallBudget | None = None
) -> DdmClient:
    """The DdmClient with the auth the settings select (AK/SK wins when both are set)."""
    project_id = settings.huaweicloud_sdk_project_id or ""
    timeouts = Timeouts(
        connect=settings.huaweicloud_connect_timeout_seconds, read=settings.huaweicloud_read_timeout_seconds
    )
    auth: httpx.Auth
    if settings.huawei_auth_mode == "aksk":
        assert settings.huaweicloud_sdk_ak and settings.huaweicloud_sdk_sk
        token = settings.huaweicloud_sdk_security_token
        auth = AkSkAuth(
            ak=settings.huaweicloud_sdk_ak.get_secret_value(),
            sk=settings.huaweicloud_sdk_sk.get_secret_value(),
            project_id=project_id,
            security_token=token.get_secret_value() if token else None,
        )
    else:
        assert settings.huaweicloud_iam_password
        provider = IamTokenProvider(
            iam_endpoint=settings.iam_endpoint,
            username=settings.huaweicloud_iam_username or "",
            password=settings.huaweicloud_iam_password.get_secret_value(),
            domain=settings.huaweicloud_iam_domain or "",
            project_id=project_id,
            timeout=timeouts.to_httpx(),
            transport=transport,
        )
        auth = TokenAuth(provider)
    return DdmClient(
        endpoint=settings.ddm_endpoint,
        project_id=project_id,
        auth=auth,
        timeouts=timeouts,
        transport=transport,
        region=settings.huaweicloud_region,
        budget=budget,
    )


def ddm_gateway_from(
    settings: Settings, store: RequestStore, transport: httpx.AsyncBaseTransport | None = None
) -> HuaweiDdmGateway:
    """The DdmGateway for people (form loads); `.background()` gives the follower's. Every call it makes is
    counted in the DDM call budget that all replicas share through `store`'s database."""
    if settings.huawei_auth_mode == "aksk":
        assert settings.huaweicloud_sdk_ak
        credential = credential_key(ak=settings.huaweicloud_sdk_ak.get_secret_value())
    else:
        credential = credential_key(username=settings.huaweicloud_iam_username, domain=settings.huaweicloud_iam_domain)
    budget = CallBudget(BudgetTable(store), credential=credential, per_minute=settings.ddm_calls_per_minute)
    return HuaweiDdmGateway(ddm_client_from(settings, transport, budget=budget))


def slack_client_from(settings: Settings, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    # One keep-alive session (bolt hands it to its per-request clients too); without it slack_sdk opens a new
    # connection, and against Slack a new TLS handshake, for every call.
    kwargs: dict[str, object] = {"session": session} if session is not None else {}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    client = AsyncWebClient(token=token, **kwargs)  # type: ignore[arg-type]
    # slack_sdk retries only connection errors by default; honour 429 Retry-After too (bolt copies these).
    client.retry_handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    return client


@dataclass
class Runtime:
    settings: Settings
    store: RequestStore
    ddm: DdmClient
    client: AsyncWebClient
    app: AsyncApp
    service: RestoreService
    watcher: JobWatcher
    sweeper: Sweeper
    tasks: TaskRunner
    closed: bool = field(default=False)

    async def start_background(self) -> None:
        """Resume what a previous run left (expiries, submissions, running jobs), then keep sweeping."""
        await self.sweeper.sweep_once()
        await self.watcher.resume()
        self.sweeper.start()

    async def close(self) -> None:
        """Graceful stop: finish in-flight work (a submit), stop following jobs (leases released), close."""
        if self.closed:
            return
        self.closed = True
        await self.sweeper.close()
        await self.tasks.drain(grace_seconds=self.settings.submit_deadline_seconds + 5)
        await self.service.drain()
        await self.watcher.close()
        await self.ddm.aclose()
        await self.store.close()
        if self.client.session is not None:
            await self.client.session.close()

    def web_app(self) -> web.Application:
        async def events(request: web.Request) -> web.Response:
            bolt_request = await to_bolt_request(request)
            return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

        async def health(_request: web.Request) -> web.Response:
            return web.json_response({"ok": True, "mode": self.settings.slack_mode})

        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, events)
        web_app.router.add_get("/healthz", health)
        return web_app


async def build_runtime(settings: Settings, *, sweep_interval: float | None = None) -> Runtime:
    store = RequestStore.from_url(settings.database_url)
    await store.create_schema()
    gateway = ddm_gateway_from(settings, store)
    ddm = gateway.client  # the service still talks to the client (its calls pass the budget too)
    client = slack_client_from(settings, aiohttp.ClientSession())
    policy = policy_from(settings)
    directory = SlackDirectory(
        client, group_ids=policy.groups_to_resolve, cache_seconds=settings.usergroup_cache_seconds
    )
    notifier = SlackNotifier(client, approvers=policy.describe_approvers(), latest=store.get)
    service = RestoreService(
        store=store,
        ddm=ddm,
        notifier=notifier,
        directory=directory,
        policy=policy,
        stale_submitting_after=timedelta(seconds=settings.submit_stale_seconds),
        reconcile_deadline=timedelta(seconds=settings.reconcile_deadline_seconds),
    )
    watcher = JobWatcher(
        service, poll_interval=settings.job_poll_interval_seconds, lease_seconds=settings.job_lease_seconds
    )
    sweeper = Sweeper(service, watcher, interval=sweep_interval or settings.sweep_interval_seconds)
    tasks = TaskRunner()
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "",
        request_verification_enabled=settings.slack_mode == "http",
        # Ack as soon as the handler returns; our handlers ack first and move slow work to tasks.
        process_before_response=True,
    )
    register_all(
        app,
        Deps(service=service, choices=RestoreChoices(gateway), directory=directory, notifier=notifier, tasks=tasks),
    )
    return Runtime(
        settings=settings,
        store=store,
        ddm=ddm,
        client=client,
        app=app,
        service=service,
        watcher=watcher,
        sweeper=sweeper,
        tasks=tasks,
    )


async def serve(runtime: Runtime, stop: asyncio.Event, *, host: str = "0.0.0.0") -> None:
    """Serve Slack in the configured mode until `stop` is set, then shut down gracefully."""
    await runtime.start_background()
    try:
        if runtime.settings.slack_mode == "http":
            runner = web.AppRunner(runtime.web_app())
            await runner.setup()
            site = web.TCPSite(runner, host, runtime.settings.port)
            await site.start()
            log.info("serving Slack over HTTP on port %s at %s", runtime.settings.port, EVENTS_PATH)
            try:
                await stop.wait()
            finally:
                await runner.cleanup()
        else:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            assert runtime.settings.slack_app_token
            handler = AsyncSocketModeHandler(runtime.app, runtime.settings.slack_app_token.get_secret_value())
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
            try:
                await stop.wait()
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]
    finally:
        await runtime.close()


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
