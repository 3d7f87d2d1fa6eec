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
from bot.envfile import EnvironmentSetup, load_setups, settings_setup
from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
from bot.huawei.budget import CallBudget, credential_key
from bot.huawei.ddm import DdmClient, Timeouts
from bot.huawei.gateway import HuaweiDdmGateway
from bot.observability.instrument import DdmObserver, SlackCallObserver, observe_decisions, observe_transitions
from bot.observability.logs import hide_secrets_of
from bot.observability.metrics import Metrics
from bot.restore.policy import ApprovalPolicy
from bot.restore.request import RestoreRequest
from bot.runtime.bounds import (
    SLACK_ATTEMPT_SECONDS,
    BoundedWebClient,
    Bounds,
    database_engine_options,
    follower_budget_wait,
)
from bot.runtime.outages import outage_cause
from bot.runtime.supervisor import Supervisor
from bot.slack.announcer import Announcer
from bot.slack.blocks.card import CardPeople
from bot.slack.blocks.messages import render_notice
from bot.slack.directory import SlackDirectory
from bot.slack.listeners import Deps, register_all
from bot.slack.notifier import SlackNotifier
from bot.store.budget import BudgetTable
from bot.store.requests import RequestStore
from bot.workflow.cached import CachedDdm
from bot.workflow.follow import Follower
from bot.workflow.places import Place, Places
from bot.workflow.requests import Requests
from bot.workflow.submit import Submitter
from bot.workflow.sweep import Sweeper

log = logging.getLogger(__name__)


def ddm_client_from(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    budget: CallBudget | None = None,
    setup: EnvironmentSetup | None = None,
    metrics: Metrics | None = None,
) -> DdmClient:
    """The DdmClient of one environment (default: the settings' own) with the auth its credentials select
    (AK/SK wins when both are set); each call is logged with DDM's request id, and measured when `metrics` are
    given."""
    if setup is None:
        _ = settings.huawei_auth_mode  # raises ConfigError naming what is missing
        setup = settings_setup(settings)
    env, creds = setup.environment, setup.credentials
    timeouts = Timeouts(
        connect=settings.huaweicloud_connect_timeout_seconds, read=settings.huaweicloud_read_timeout_seconds
    )
    auth: httpx.Auth
    if creds.ak is not None:
        assert creds.sk is not None
        auth = AkSkAuth(
            ak=creds.ak.get_secret_value(),
            sk=creds.sk.get_secret_value(),
            project_id=env.project_id,
            security_token=creds.security_token.get_secret_value() if creds.security_token else None,
        )
    else:
        assert creds.password is not None
        provider = IamTokenProvider(
            iam_endpoint=setup.iam_endpoint,
            username=creds.username or "",
            password=creds.password.get_secret_value(),
            domain=creds.domain or "",
            project_id=env.project_id,
            timeout=timeouts.to_httpx(),
            transport=transport,
        )
        auth = TokenAuth(provider)
    return DdmClient(
        endpoint=setup.ddm_endpoint,
        project_id=env.project_id,
        auth=auth,
        timeouts=timeouts,
        transport=transport,
        region=env.region,
        budget=budget,
        event_hooks=DdmObserver(metrics).hooks(),
    )


def ddm_gateway_from(
    settings: Settings,
    store: RequestStore,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    setup: EnvironmentSetup | None = None,
    metrics: Metrics | None = None,
) -> HuaweiDdmGateway:
    """The DdmGateway of one environment for people (form loads); `.background()` gives the follower's. Every
    call it makes is counted in the DDM call budget of its credential, shared by all replicas through `store`'s
    database."""
    if setup is None:
        _ = settings.huawei_auth_mode
        setup = settings_setup(settings)
    creds = setup.credentials
    if creds.ak is not None:
        credential = credential_key(ak=creds.ak.get_secret_value())
    else:
        credential = credential_key(username=creds.username, domain=creds.domain)
    budget = CallBudget(BudgetTable(store), credential=credential, per_minute=settings.ddm_calls_per_minute)
    return HuaweiDdmGateway(ddm_client_from(settings, transport, budget=budget, setup=setup, metrics=metrics))


def slack_client_from(
    settings: Settings, session: aiohttp.ClientSession | None = None, *, metrics: Metrics | None = None
) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    # One keep-alive session (bolt hands it to its per-request clients too); without it slack_sdk opens a new
    # connection, and against Slack a new TLS handshake, for every call.
    kwargs: dict[str, object] = {"session": session} if session is not None else {}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    # Each attempt within SLACK_ATTEMPT_SECONDS (the session's own timeout applies, not the client's), each call with
    # its retries within SLACK_CALL_SECONDS (bot.runtime.bounds).
    client = BoundedWebClient(token=token, timeout=int(SLACK_ATTEMPT_SECONDS), **kwargs)  # type: ignore[arg-type]
    # slack_sdk retries only connection errors by default; honour 429 Retry-After too (bolt copies these).
    client.retry_handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    if metrics is not None:  # first: it sees every attempt and never retries
        client.retry_handlers.insert(0, SlackCallObserver(metrics))
    return client


def card_people(policy: ApprovalPolicy, request: RestoreRequest) -> CardPeople:
    """Who approves a request, as its card shows it (its environment's stages)."""
    return CardPeople(policy.describe_approvers(), policy.stage_header(request), policy.stage_lines(request))


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: RequestStore
    ddm: HuaweiDdmGateway  # the first environment's (the only one without a configuration file)
    gateways: tuple[HuaweiDdmGateway, ...]
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
        except Exception as exc:
            cause = outage_cause(exc)  # an outage is one line; anything else is a bug and gets its traceback
            log.log(
                logging.WARNING if cause else logging.ERROR,
                "catching up at start failed (%s); the sweeper retries",
                cause or type(exc).__name__,
                exc_info=cause is None,
            )
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
        for gateway in self.gateways:
            await gateway.aclose()
        await self.store.close()
        if self.client.session is not None:
            await self.client.session.close()


async def build_runtime(settings: Settings, *, sweep_interval: float | None = None) -> Runtime:
    setups = load_setups(settings)  # ConfigError (one line per key) when the environments file is wrong
    if setups.path is None:
        _ = settings.huawei_auth_mode  # ConfigError naming the missing Huawei variable
    hide_secrets_of(settings)
    metrics = Metrics()
    options = database_engine_options(settings.database_url)
    if options:
        # Migrations (and waiting for another replica's) may take longer than one statement of the bot's own.
        from bot.store.migrate import migrate

        await migrate(settings.database_url)
    store = RequestStore.from_url(settings.database_url, **options)
    await store.create_schema()
    observe_transitions(store, metrics)
    # Each environment has its own DdmClient: its project, credentials, token cache and call budget.
    gateways = [ddm_gateway_from(settings, store, setup=setup, metrics=metrics) for setup in setups.all]
    # People's forms read through a short memory of DDM's answers (bot.workflow.cached); the submit's re-check
    # and the follower read live, and wait for the call budget rather than fail when a minute is spent.
    forms = [CachedDdm(gateway) for gateway in gateways]
    form_places = Places(Place(setup.environment, each) for setup, each in zip(setups.all, forms, strict=True))
    background = Places(
        Place(setup.environment, gateway.background()) for setup, gateway in zip(setups.all, gateways, strict=True)
    )
    # The follower waits for the budget less than its lease lasts: a poll must not outlive the lease, or another
    # replica would take over and both would poll (it backs off and tries again instead).
    follower_wait = follower_budget_wait(settings)
    following = Places(
        Place(setup.environment, gateway.background(follower_wait))
        for setup, gateway in zip(setups.all, gateways, strict=True)
    )
    ddm = gateways[0]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_ATTEMPT_SECONDS))
    client = slack_client_from(settings, session, metrics=metrics)
    policy = setups.all[0].environment.policy
    groups = frozenset().union(*(setup.environment.policy.groups_to_resolve for setup in setups.all))
    directory = SlackDirectory(client, group_ids=groups, cache_seconds=settings.usergroup_cache_seconds)
    supervisor = Supervisor()
    submitter = Submitter(
        store=store,
        ddm=background,
        clock=utc_now,
        stale_submitting_after=timedelta(seconds=settings.submit_stale_seconds),
        reconcile_deadline=timedelta(seconds=settings.reconcile_deadline_seconds),
    )
    requests = Requests(
        store=store,
        ddm=forms[0],
        directory=directory,
        policy=policy,
        clock=utc_now,
        submit=submitter.submit,
        places=form_places,
    )
    observe_decisions(requests, metrics)
    follower = Follower(
        store=store,
        ddm=following,
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
        approvers=lambda request: card_people(requests.policy_of(request), request),
        clock=utc_now,
        lease_seconds=settings.job_lease_seconds,
    )
    # Each step within a bound that covers its calls' timeouts and retries (bot.runtime.bounds): liveness.
    bounds = Bounds.of(settings)
    supervisor.every("announcer", announcer.interval, announcer.step, step_seconds=bounds.announcer)
    supervisor.every("sweeper", sweeper.interval, sweeper.step, step_seconds=bounds.sweeper)
    supervisor.every("follower", follower.poll_interval, follower.step, step_seconds=bounds.follower)
    store.on_notices = lambda: supervisor.wake("announcer")
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "",
        request_verification_enabled=settings.slack_mode == "http",
        # Ack as soon as the handler returns; our handlers ack first and move slow work to tasks.
        process_before_response=True,
    )
    choices = [RestoreChoices(each) for each in forms]
    register_all(
        app,
        Deps(
            service=requests,
            choices=choices[0],
            choices_by_environment={
                setup.environment.name: each for setup, each in zip(setups.all, choices, strict=True)
            },
            directory=directory,
            notifier=SlackNotifier(client),
            tasks=supervisor,
        ),
    )
    return Runtime(
        settings=settings,
        store=store,
        ddm=ddm,
        gateways=tuple(gateways),
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
