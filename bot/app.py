"""Composition root: settings -> clients -> store -> workflow -> AsyncApp; nothing else (serving lives in
bot.serving.serve)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.choices import RestoreChoices
from bot.clients import ddm_gateway_from, probe_of, slack_client_from
from bot.config import Settings
from bot.envfile import Setups, load_setups
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.observability.audit_head import AuditHeadLog
from bot.observability.instrument import ChangeLog, MeasuredDesk
from bot.observability.logs import hide_secrets_of
from bot.observability.metrics import Metrics
from bot.runtime.bounds import (
    SLACK_ATTEMPT_SECONDS,
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
from bot.store.audit_chain import current_head
from bot.store.sql_store import RequestStore
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
            await self.sweeper.step()  # its first step freezes the flows (and its next ones, until that succeeds)
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
    directory = SlackDirectory(
        client, group_ids=groups, cache_seconds=settings.usergroup_cache_seconds, monotonic=clock.monotonic
    )
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
        sleep=clock.sleep,
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
