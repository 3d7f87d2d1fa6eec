"""Composition root: settings -> clients -> store -> workflow -> AsyncApp; nothing else (serving lives in
bot.serving.serve)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import RestoreChoices
from bot.config import Settings
from bot.envfile import EnvironmentSetup, Setups, load_setups, settings_setup
from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
from bot.huawei.budget import CallBudget, credential_key
from bot.huawei.ddm import DdmClient
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.huawei.retry import Timeouts
from bot.observability.audit_head import AuditHeadLog
from bot.observability.instrument import ChangeLog, DdmObserver, MeasuredDesk, SlackCallObserver
from bot.observability.logs import hide_secrets_of
from bot.observability.metrics import Metrics
from bot.observability.redact import REDACTOR
from bot.runtime.bounds import (
    SLACK_ATTEMPT_SECONDS,
    BoundedWebClient,
    Bounds,
    database_engine_options,
    follower_budget_wait,
)
from bot.runtime.clock import WALL_CLOCK, Clock
from bot.runtime.outages import outage_cause
from bot.runtime.socket_link import SocketLink
from bot.runtime.supervisor import Supervisor
from bot.slack.announcer import Announcer
from bot.slack.blocks.card import card_people
from bot.slack.blocks.messages import render_notice
from bot.slack.directory import SlackDirectory
from bot.slack.home import HomePublisher
from bot.slack.home_refresh import HomeRefresher
from bot.slack.listeners import Deps, register_all
from bot.slack.notifier import SlackNotifier
from bot.slack.retries import retry_handlers
from bot.store.audit_chain import current_head
from bot.store.budget import BudgetTable
from bot.store.sql_store import RequestStore
from bot.verify_sql.probe import MySqlProbe
from bot.workflow.cached import CachedDdm
from bot.workflow.desk import RestoreDesk
from bot.workflow.drills import DrillRunner
from bot.workflow.follow import Follower
from bot.workflow.places import Place, Places
from bot.workflow.remind import Reminders
from bot.workflow.submit import Submitter
from bot.workflow.sweep import Sweeper
from bot.workflow.verify import Verifier

log = logging.getLogger(__name__)


def ddm_client_from(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    budget: CallBudget | None = None,
    setup: EnvironmentSetup | None = None,
    metrics: Metrics | None = None,
    clock: Clock = WALL_CLOCK,
) -> DdmClient:
    """The DdmClient of one environment (default: the settings' own) with the auth its credentials select
    (AK/SK wins when both are set); each call is logged with DDM's request id, and measured when `metrics` are
    given. Requests are signed, and restore points judged, by `clock`."""
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
            clock=clock.now,
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
            clock=clock.now,
            transport=transport,
        )
        auth = TokenAuth(provider)
    return DdmClient(
        endpoint=setup.ddm_endpoint,
        project_id=env.project_id,
        auth=auth,
        timeouts=timeouts,
        transport=transport,
        clock=clock.now,
        sleep=clock.sleep,
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
    clock: Clock = WALL_CLOCK,
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
    budget = CallBudget(
        BudgetTable(store),
        credential=credential,
        per_minute=settings.ddm_calls_per_minute,
        clock=lambda: clock.now().timestamp(),
        sleep=clock.sleep,
    )
    return HuaweiDdmGateway(
        ddm_client_from(settings, transport, budget=budget, setup=setup, metrics=metrics, clock=clock)
    )


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
    # its retries within SLACK_CALL_SECONDS (bot.runtime.bounds). A dropped connection is retried only for calls safe
    # to repeat (never a post: it may be in Slack already), and a 429 is waited out (bolt copies these into the
    # client of each listener). The observer goes first: it sees every attempt and never retries.
    handlers: list[AsyncRetryHandler] = [SlackCallObserver(metrics)] if metrics is not None else []
    handlers += retry_handlers()
    return BoundedWebClient(
        token=token,
        timeout=int(SLACK_ATTEMPT_SECONDS),
        retry_handlers=handlers,
        **kwargs,  # type: ignore[arg-type]
    )


def probe_of(setup: EnvironmentSetup) -> MySqlProbe | None:
    """The SQL checks' runner of an environment (None: it has no checks); its password is hidden in the logs."""
    if setup.verify_account is None:
        return None
    user, password = setup.verify_account
    REDACTOR.add(password)
    return MySqlProbe(user=user, password=password.get_secret_value())


@dataclass
class Runtime:
    settings: Settings
    store: RequestStore
    ddm: HuaweiDdmGateway  # the first environment's (the only one without a configuration file)
    gateways: tuple[HuaweiDdmGateway, ...]
    client: AsyncWebClient
    app: AsyncApp
    supervisor: Supervisor
    desk: RestoreDesk
    submitter: Submitter
    follower: Follower
    sweeper: Sweeper
    announcer: Announcer
    verifier: Verifier
    homes: HomeRefresher
    metrics: Metrics = field(default_factory=Metrics)
    drills: DrillRunner | None = None
    # Socket Mode: whether the connection to Slack is up (serving attaches the handler's check; HTTP mode none).
    socket_link: SocketLink = field(default_factory=SocketLink)
    closed: bool = field(default=False)

    async def start_background(self) -> None:
        """Freeze the flow of pending requests made before flows were frozen, apply what passed while the bot was
        down (expiries, a lost submitter), submit what was approved but never sent, then start every loop. A failure
        here is the loops' to retry: it never stops the start."""
        try:
            await self.desk.freeze_flows()
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
        await self.homes.close()
        await self.follower.close()
        await self.verifier.close()
        for gateway in self.gateways:
            await gateway.aclose()
        await self.store.close()
        if self.client.session is not None:
            await self.client.session.close()


async def build_runtime(
    settings: Settings,
    *,
    sweep_interval: float | None = None,
    setups: Setups | None = None,
    clock: Clock = WALL_CLOCK,
) -> Runtime:
    # `setups`: the environments, made by the caller (the playground, which must not read ./ddm-restore.toml);
    # else from the settings and the environments file. ConfigError (one line per key) when the file is wrong.
    # `clock`: the one time every loop and use case reads and waits on (tests pass one they move).
    setups = setups or load_setups(settings)
    if setups.path is None:
        _ = settings.huawei_auth_mode  # ConfigError naming the missing Huawei variable
    hide_secrets_of(settings)
    metrics = Metrics()
    options = database_engine_options(settings.database_url)
    if options:
        # Migrations (and waiting for another replica's) may take longer than one statement of the bot's own.
        from bot.store.migrate import migrate

        await migrate(settings.database_url)
    supervisor = Supervisor(clock=clock)
    store = RequestStore.from_url(
        settings.database_url,
        observers=[ChangeLog(metrics)],
        # A change that wrote notices wakes this replica's announcer: they are delivered at once.
        on_notices=lambda: supervisor.wake("announcer"),
        **options,
    )
    await store.create_schema()
    # Each environment has its own DdmClient: its project, credentials, token cache and call budget.
    gateways = [ddm_gateway_from(settings, store, setup=setup, metrics=metrics, clock=clock) for setup in setups.all]
    # People's forms read through a short memory of DDM's answers (bot.workflow.cached); the submit's re-check
    # and the follower read live, and wait for the call budget rather than fail when a minute is spent.
    forms = [CachedDdm(gateway, clock=clock.monotonic) for gateway in gateways]
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
    groups = frozenset().union(*(setup.environment.policy.groups_to_resolve for setup in setups.all))
    directory = SlackDirectory(client, group_ids=groups, cache_seconds=settings.usergroup_cache_seconds)
    submitter = Submitter(
        store=store,
        places=background,
        clock=clock.now,
        stale_submitting_after=timedelta(seconds=settings.submitter_lost_after_seconds),
        reconcile_deadline=timedelta(seconds=settings.reconcile_deadline_seconds),
    )
    desk = RestoreDesk(store=store, places=form_places, directory=directory, clock=clock.now, submit=submitter.submit)
    follower = Follower(
        store=store,
        places=following,
        submitter=submitter,
        clock=clock.now,
        poll_interval=settings.job_poll_interval_seconds,
        lease_seconds=settings.job_lease_seconds,
    )
    # The verifier reads DDM like the follower (within its lease) and runs each environment's SQL checks with the
    # environment's read-only account.
    verifying = Places(
        Place(setup.environment, gateway.background(follower_wait), probe_of(setup))
        for setup, gateway in zip(setups.all, gateways, strict=True)
    )
    verifier = Verifier(
        store=store,
        places=verifying,
        clock=clock.now,
        poll_interval=settings.job_poll_interval_seconds,
        lease_seconds=settings.job_lease_seconds,
    )
    sweeper = Sweeper(
        store=store,
        desk=desk,
        submitter=submitter,
        clock=clock.now,
        interval=sweep_interval or settings.sweep_interval_seconds,
        spawn=supervisor.spawn,
        reminders=Reminders(store=store, places=form_places, clock=clock.now),
    )
    drills = DrillRunner(
        store=store,
        places=background,
        submit=submitter.submit,
        tell=SlackNotifier(client).say,
        clock=clock.now,
        interval=sweep_interval or settings.sweep_interval_seconds,
        spawn=supervisor.spawn,
        counted=lambda drill, outcome: metrics.drill_outcomes.labels(drill, outcome).inc(),
        changed=lambda environment: home.mark_environment(environment),
    )
    # The Homes a change makes stale (marked by the announcer, the drills) are published by any replica's loop.
    home = HomePublisher(
        client=client,
        store=store,
        places=form_places,
        directory=directory,
        clock=clock.now,
        drills=drills,
        on_stale=lambda: supervisor.wake("homes"),
    )
    homes = HomeRefresher(home=home, store=store, clock=clock.now, lease_seconds=settings.job_lease_seconds)
    announcer = Announcer(
        store=store,
        client=client,
        render=render_notice,
        approvers=lambda request: card_people(form_places.policy_of(request), request, clock.now()),
        clock=clock.now,
        lease_seconds=settings.job_lease_seconds,
        home=home,
    )
    # Each step within a bound that covers its calls' timeouts and retries (bot.runtime.bounds): liveness.
    bounds = Bounds.of(settings)
    supervisor.every("announcer", announcer.interval, announcer.step, step_seconds=bounds.announcer)
    supervisor.every("sweeper", sweeper.interval, sweeper.step, step_seconds=bounds.sweeper)
    supervisor.every("follower", follower.poll_interval, follower.step, step_seconds=bounds.follower)
    supervisor.every(
        "verifier", verifier.poll_interval, verifier.step, step_seconds=bounds.verifier(verifier.lease_seconds)
    )
    if drills.drills:
        supervisor.every("drills", drills.interval, drills.step, step_seconds=bounds.drills)
    supervisor.every("homes", homes.interval, homes.step, step_seconds=bounds.homes)
    head_log = AuditHeadLog(lambda: current_head(store))  # the hourly `audit head` line (README: backing up)
    supervisor.every("audit_head", head_log.interval, head_log.step, step_seconds=bounds.audit_head)
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
            desk=MeasuredDesk(desk, metrics),
            places=form_places,
            choices=choices[0],
            choices_by_environment={
                setup.environment.name: each for setup, each in zip(setups.all, choices, strict=True)
            },
            directory=directory,
            notifier=SlackNotifier(client),
            tasks=supervisor,
            home=home,
            drills=drills,
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
        desk=desk,
        submitter=submitter,
        follower=follower,
        sweeper=sweeper,
        announcer=announcer,
        verifier=verifier,
        metrics=metrics,
        drills=drills,
        homes=homes,
    )
