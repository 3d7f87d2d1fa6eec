"""Start-up checks shared by `check` (prints every line) and `run` (refuses at the first fatal one).

Each check returns Findings: one line each, ✓ or ✗, starting with the setting it is about. No line ever
holds a secret: tokens, passwords and keys are named, never shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import ConfigError, Settings
from bot.envfile import config_path, load_setups
from bot.errors import PersonError
from bot.store.migrate import current_revisions, head_revision, one_line, script_directory, shown_url

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Regions with DDM (console list, 2026); endpoints derive from the name, so a typo is an unresolvable host.
KNOWN_REGIONS = frozenset(
    {
        "af-north-1",
        "af-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "cn-east-2",
        "cn-east-3",
        "cn-east-4",
        "cn-east-5",
        "cn-north-1",
        "cn-north-2",
        "cn-north-4",
        "cn-north-9",
        "cn-south-1",
        "cn-south-2",
        "cn-southwest-2",
        "eu-west-0",
        "eu-west-101",
        "la-north-2",
        "la-south-2",
        "me-east-1",
        "na-mexico-1",
        "ru-northwest-2",
        "sa-brazil-1",
        "tr-west-1",
    }
)
# Slack answers that no retry can fix: the token (or its type or scope) is wrong.
_REFUSALS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)
_BACKOFF_CAP_SECONDS = 30.0


class StartupError(PersonError):
    """The bot cannot start; the message is one line naming the setting to fix."""


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.text}"


@dataclass
class SlackFacts:
    """What Slack told the checks: shown in the ready line."""

    team: str = ""
    team_id: str = ""
    bot_user: str = ""
    group_members: dict[str, list[str]] = field(default_factory=dict)


# ---- settings alone -----------------------------------------------------------------------------------------


def settings_findings(settings: Settings, *, huawei: bool = True) -> list[Finding]:
    """What is wrong with the settings themselves (no I/O): ✗ lines only."""
    problems = settings.slack_problems()
    if config_path(settings) is None:
        problems += settings.policy_problems()
        if huawei:
            problems += settings.huawei_problems() + region_problems(settings)
    elif huawei:
        # The file's environments replace the settings' project, region, credentials and approvers.
        try:
            load_setups(settings)
        except ConfigError as exc:
            problems += str(exc).splitlines()
    try:
        shown_url(settings.database_url)
    except ValueError as exc:
        problems.append(str(exc))
    return [Finding(False, problem) for problem in problems]


def region_problems(settings: Settings) -> list[str]:
    region = settings.huaweicloud_region
    if region in KNOWN_REGIONS or (settings.huaweicloud_ddm_endpoint and settings.huaweicloud_iam_endpoint):
        return []  # with both endpoints given, the region only labels them
    return [
        f"HUAWEICLOUD_REGION: {region!r} is not a Huawei Cloud region with DDM (e.g. cn-north-4, ap-southeast-1); "
        "or set HUAWEICLOUD_DDM_ENDPOINT and HUAWEICLOUD_IAM_ENDPOINT"
    ]


# ---- database -----------------------------------------------------------------------------------------------


async def check_database(url: str, *, wait_seconds: float = 10.0) -> Finding:
    """Connect once and compare the migration state with this release: current, behind (fine) or ahead."""
    try:
        shown = shown_url(url)
    except ValueError as exc:
        return Finding(False, str(exc))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        sqlite = _sqlite_file(Path(parsed.database), shown)
        if sqlite is not None:
            return sqlite
    timeout = wait_seconds
    connect_args: dict[str, Any] = {"timeout": timeout} if parsed.get_driver_name() == "asyncpg" else {}
    try:
        engine = create_async_engine(url, connect_args=connect_args)
    except (ArgumentError, ImportError) as exc:  # a driver the bot does not install
        return Finding(False, f"DATABASE_URL: {one_line(exc)}")
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            heads = set(await conn.run_sync(current_revisions))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = one_line(exc) if not isinstance(exc, TimeoutError) else f"no answer within {timeout:.0f} s"
        return Finding(False, f"DATABASE_URL: cannot connect to {shown}: {reason}")
    finally:
        await engine.dispose()
    return _migration_finding(shown, heads)


def _sqlite_file(path: Path, shown: str) -> Finding | None:
    if not path.parent.is_dir():
        return Finding(False, f"DATABASE_URL: the directory of {shown} does not exist")
    if not path.exists():  # don't leave an empty file behind a check
        return Finding(True, f"DATABASE_URL: {shown}: a new SQLite file, created and migrated at start-up")
    return None


def _migration_finding(shown: str, heads: set[str]) -> Finding:
    script = script_directory()
    newest = head_revision()
    if not heads:
        return Finding(True, f"DATABASE_URL: {shown}: empty, the schema is created at start-up (revision {newest})")
    if heads == set(script.get_heads()):
        return Finding(True, f"DATABASE_URL: {shown}: migrations current (revision {newest})")
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(heads - known)
    if unknown:
        return Finding(
            False,
            f"DATABASE_URL: {shown}: migrations ahead: revision {', '.join(unknown)} is newer than this release "
            f"knows (its newest is {newest}); run the newer release",
        )
    return Finding(
        True,
        f"DATABASE_URL: {shown}: migrations behind (revision {', '.join(sorted(heads))}, newest {newest}): "
        "applied at start-up, or run `ddm-restore-bot migrate`",
    )


# ---- Slack --------------------------------------------------------------------------------------------------


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status >= 500 or status == 429
    return isinstance(exc, aiohttp.ClientError | OSError | TimeoutError)


async def with_retries(call: Callable[[], Awaitable[_T]], *, what: str, attempts: int, backoff: float) -> _T:
    """`call`, tried `attempts` times with doubling waits while the failure is one a retry can fix."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if attempt >= attempts or not _transient(exc):
                raise
            delay = min(backoff * 2 ** (attempt - 1), _BACKOFF_CAP_SECONDS)
            log.warning("%s: %s (attempt %d of %d); retrying in %.1f s", what, _reason(exc), attempt, attempts, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error') or exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _unreachable(settings: Settings, client: AsyncWebClient, exc: BaseException) -> str:
    where = "SLACK_API_URL" if settings.slack_api_url else "SLACK_API_URL (not set: Slack's own)"
    return (
        f"{where}: Slack cannot be reached at {client.base_url}: {_reason(exc)}; check the network, a proxy or a "
        "firewall"
    )


async def check_slack(
    settings: Settings, client: AsyncWebClient, *, attempts: int = 1, backoff: float = 1.0
) -> tuple[list[Finding], SlackFacts | None]:
    """The bot token (auth.test), the app token in Socket Mode (apps.connections.open), the approver groups
    and whether REQUIRED_APPROVALS can be met. Facts is None when the bot token did not work."""
    try:
        answer = await with_retries(client.auth_test, what="Slack auth.test", attempts=attempts, backoff=backoff)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in _REFUSALS:
            text = f"SLACK_BOT_TOKEN: Slack refused it ({error}); copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions"
        else:
            text = f"SLACK_BOT_TOKEN: auth.test failed: {_reason(exc)}"
        return [Finding(False, text)], None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [Finding(False, _unreachable(settings, client, exc))], None
    facts = SlackFacts(
        team=str(answer.get("team") or ""), team_id=str(answer.get("team_id") or ""), bot_user=str(answer.get("user"))
    )
    findings = [Finding(True, f"SLACK_BOT_TOKEN: bot @{facts.bot_user} in workspace {facts.team} ({facts.team_id})")]
    if settings.slack_mode == "socket" and settings.slack_app_token:
        findings.append(await _check_app_token(settings, client, attempts=attempts, backoff=backoff))
    findings += await _check_approvers(settings, client, facts)
    return findings, facts


async def _check_app_token(settings: Settings, client: AsyncWebClient, *, attempts: int, backoff: float) -> Finding:
    assert settings.slack_app_token
    token = settings.slack_app_token.get_secret_value()

    async def open_connection() -> Any:
        return await client.apps_connections_open(app_token=token)

    try:
        await with_retries(open_connection, what="Slack apps.connections.open", attempts=attempts, backoff=backoff)
    except SlackApiError as exc:
        error = exc.response.get("error")
        hint = "an app-level token (xapp-…) with connections:write, under Basic Information → App-Level Tokens"
        if error in _REFUSALS:
            return Finding(False, f"SLACK_APP_TOKEN: Slack refused it ({error}); give {hint}")
        return Finding(False, f"SLACK_APP_TOKEN: apps.connections.open failed: {_reason(exc)}")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Finding(False, _unreachable(settings, client, exc))
    return Finding(True, "SLACK_APP_TOKEN: Socket Mode connections can be opened")


async def _check_approvers(settings: Settings, client: AsyncWebClient, facts: SlackFacts) -> list[Finding]:
    findings: list[Finding] = []
    possible = set(settings.approver_user_ids)
    for group in settings.approver_usergroup_ids:
        try:
            answer = await client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            error = exc.response.get("error")
            hint = " (the app needs the usergroups:read scope: reinstall it)" if error == "missing_scope" else ""
            findings.append(Finding(False, f"APPROVER_USERGROUP_IDS: {group}: Slack answered {error}{hint}"))
            continue
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            findings.append(Finding(False, _unreachable(settings, client, exc)))
            continue
        members = [str(user) for user in answer.get("users") or []]
        facts.group_members[group] = members
        possible |= set(members)
        findings.append(Finding(True, f"APPROVER_USERGROUP_IDS: {group} has {len(members)} member(s)"))
    if settings.approver_usergroup_ids and len(facts.group_members) == len(settings.approver_usergroup_ids):
        needed = settings.required_approvals
        if needed > len(possible):
            findings.append(
                Finding(
                    False,
                    f"REQUIRED_APPROVALS={needed} but APPROVER_USER_IDS and APPROVER_USERGROUP_IDS give only "
                    f"{len(possible)} possible approver(s): no request could ever be approved",
                )
            )
        else:
            findings.append(Finding(True, f"REQUIRED_APPROVALS={needed}: {len(possible)} possible approver(s)"))
    return findings
