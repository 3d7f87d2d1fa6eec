"""Composition root: settings -> clients -> store -> workflow -> AsyncApp; nothing else (serving lives in
bot.serving.serve)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx
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
from bot.observability.instrument import DdmObserver, SlackCallObserver, observe_decisions, observe_transitions
from bot.observability.logs import hide_secrets_of
from bot.observability.metrics import Metrics
from bot.restore.policy import ApprovalPolicy
from bot.runtime.supervisor import Supervisor
from bot.slack.announcer import Announcer
from bot.slack.blocks.messages import render_notice
from bot.slack.directory import SlackDirectory
from bot.slack.listeners import Deps, register_all
from bot.slack.notifier import SlackNotifier
from bot.store.budget import BudgetTable
from bot.store.requests import RequestStore
from bot.workflow.cached import CachedDdm
from bot.workflow.follow import Follower
from bot.workflow.requests import Requests
from bot.workflow.submit import Submitter
from bot.workflow.sweep import Sweeper

log = logging.getLogger(__name__)


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
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    budget: CallBudget | None = None,
    metrics: Metrics | None = None,
) -> DdmClient:
    """The DdmClient with the auth the settings select (AK/SK wins when both are set); each call is logged
    with DDM's request id, and measured when `metrics` are given."""
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
        event_hooks=DdmObserver(metrics).hooks(),
    )


def ddm_gateway_from(
    settings: Settings,
    store: RequestStore,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    metrics: Metrics | None = None,
) -> HuaweiDdmGateway:
    """The DdmGateway for people (form loads); `.background()` gives the follower's. Every call it makes is
    counted in the DDM call budget that all replicas share through `store`'s database."""
    if settings.huawei_auth_mode == "aksk":
        assert settings.huaweicloud_sdk_ak
        credential = credential_key(ak=settings.huaweicloud_sdk_ak.get_secret_value())
    else:
        credential = credential_key(username=settings.huaweicloud_iam_username, domain=settings.huaweicloud_iam_domain)
    budget = CallBudget(BudgetTable(store), credential=credential, per_minute=settings.ddm_calls_per_minute)
    return HuaweiDdmGateway(ddm_client_from(settings, transport, budget=budget, metrics=metrics))


def slack_client_from(
    settings: Settings, session: aiohttp.ClientSession | None = None, *, metrics: Metrics | None = None
) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    # One keep-alive session (bolt hands it to its per-request clients too); without it slack_sdk opens a new
    # connection, and against Slack a new TLS handshake, for every call.
    kwargs: dict[str, object] = {"session": session} if session is not None else {}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    client = AsyncWebClient(token=token, **kwargs)  # type: ignore[arg-type]
    # slack_sdk retries only connection errors by default; honour 429 Retry-After too (bolt copies these).
    client.retry_handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    if metrics is not None:  # first: it sees every attempt and never retries
        client.retry_handlers.insert(0, SlackCallObserver(metrics))
    return client


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: RequestStore
    ddm: HuaweiDdmGateway
    client: AsyncWebClient
    app: AsyncApp
    supervisor: Supervisor
    requests: Requests
    submitter: Submitter
    follower: Follower
    sweeper: Sweeper
    announcer: Announcer
    metrics: Metrics = field(default_factory=Metrics)
    # Socket Mode: whether the connection to Slack is up (set while serving; None in HTTP mode).
    socket_connected: Callable[[], Awaitable[bool]] | None = None
    closed: bool = field(default=False)

    async def start_background(self) -> None:
        """Apply what passed while the bot was down (expiries, a lost submitter), submit what was approved but
        never sent, then start every loop. A failure here is the loops' to retry: it never stops the start."""
        try:
            await self.sweeper.step()
            await self.sweeper.resume()
        except Exception:
            log.warning("catching up at start failed; the sweeper retries", exc_info=True)
        self.supervisor.start()

    def health(self) -> tuple[bool, dict[str, object]]:
        return self.supervisor.health()

    async def close(self) -> None:
        """Graceful stop: finish in-flight work (a submit), give back leases and claims, close the clients."""
        if self.closed:
            return
        self.closed = True
        await self.supervisor.close(grace_seconds=self.settings.submit_deadline_seconds + 5)
        await self.announcer.close()
        await self.follower.close()
        await self.ddm.aclose()
        await self.store.close()
        if self.client.session is not None:
            await self.client.session.close()


async def build_runtime(settings: Settings, *, sweep_interval: float | None = None) -> Runtime:
    hide_secrets_of(settings)
    metrics = Metrics()
    store = RequestStore.from_url(settings.database_url)
    await store.create_schema()
    observe_transitions(store, metrics)
    ddm = ddm_gateway_from(settings, store, metrics=metrics)
    client = slack_client_from(settings, aiohttp.ClientSession(), metrics=metrics)
    policy = policy_from(settings)
    directory = SlackDirectory(
        client, group_ids=policy.groups_to_resolve, cache_seconds=settings.usergroup_cache_seconds
    )
    supervisor = Supervisor()
    submitter = Submitter(
        store=store,
        ddm=ddm,
        clock=utc_now,
        stale_submitting_after=timedelta(seconds=settings.submit_stale_seconds),
        reconcile_deadline=timedelta(seconds=settings.reconcile_deadline_seconds),
    )
    forms = CachedDdm(ddm)  # what people's forms read, remembered briefly; the POST's re-check reads live
    requests = Requests(
        store=store, ddm=forms, directory=directory, policy=policy, clock=utc_now, submit=submitter.submit
    )
    observe_decisions(requests, metrics)
    follower = Follower(
        store=store,
        ddm=ddm.background(),
        submitter=submitter,
        clock=utc_now,
        poll_interval=settings.job_poll_interval_seconds,
        lease_seconds=settings.job_lease_seconds,
    )
    sweeper = Sweeper(
        store=store,
        requests=requests,
        submitter=submitter,
        clock=utc_now,
        interval=sweep_interval or settings.sweep_interval_seconds,
        spawn=supervisor.spawn,
    )
    announcer = Announcer(
        store=store,
        client=client,
        render=render_notice,
        approvers=policy.describe_approvers(),
        clock=utc_now,
        lease_seconds=settings.job_lease_seconds,
    )
    supervisor.every("announcer", announcer.interval, announcer.step)
    supervisor.every("sweeper", sweeper.interval, sweeper.step)
    supervisor.every("follower", follower.poll_interval, follower.step)
    store.on_notices = lambda: supervisor.wake("announcer")
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "",
        request_verification_enabled=settings.slack_mode == "http",
        # Ack as soon as the handler returns; our handlers ack first and move slow work to tasks.
        process_before_response=True,
    )
    register_all(
        app,
        Deps(
            service=requests,
            choices=RestoreChoices(forms),
            directory=directory,
            notifier=SlackNotifier(client),
            tasks=supervisor,
        ),
    )
    return Runtime(
        settings=settings,
        store=store,
        ddm=ddm,
        client=client,
        app=app,
        supervisor=supervisor,
        requests=requests,
        submitter=submitter,
        follower=follower,
        sweeper=sweeper,
        announcer=announcer,
        metrics=metrics,
    )
