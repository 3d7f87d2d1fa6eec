"""The outbound clients, built from the settings: DDM (with its auth, call budget and observers), the Slack Web
API (one keep-alive session, bounded, retried only where safe) and the SQL checks' probe."""

from __future__ import annotations

import aiohttp
import httpx
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.envfile import EnvironmentSetup, settings_setup
from bot.huawei.auth import AkSkAuth, IamTokenProvider, TokenAuth
from bot.huawei.budget import CallBudget, credential_key
from bot.huawei.ddm import DdmClient
from bot.huawei.ddm_gateway import HuaweiDdmGateway
from bot.huawei.retry import Timeouts
from bot.observability.instrument import DdmObserver, SlackCallObserver
from bot.observability.metrics import Metrics
from bot.observability.redact import REDACTOR
from bot.runtime.bounds import SLACK_ATTEMPT_SECONDS, BoundedWebClient
from bot.runtime.clock import WALL_CLOCK, Clock
from bot.slack.retries import retry_handlers
from bot.store.budget import BudgetTable
from bot.store.sql_store import RequestStore
from bot.verify_sql.probe import MySqlProbe


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
