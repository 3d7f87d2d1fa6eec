"""Settings: one validated object from the environment and `.env`, with errors that name the variable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import PersonError

IdList = Annotated[list[str], NoDecode]
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ddm-restore-bot.sqlite3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Slack IDs: users U…/W… (Enterprise Grid), user groups S…; always upper-case letters and digits.
USER_ID = re.compile(r"[UW][A-Z0-9]+")
GROUP_ID = re.compile(r"S[A-Z0-9]+")
USER_ID_HINT = "a Slack user ID looks like U024BE7LH (profile → ⋮ → Copy member ID)"
GROUP_ID_HINT = "a user group ID looks like S0614TZR7 (the group's page → ⋮ → Copy group ID)"


# Settings that hold a secret: each is also read from the file named by NAME_FILE (Docker and Kubernetes
# secrets). DATABASE_URL is one too: it usually carries the database password.
SECRET_SETTINGS = (
    "slack_bot_token",
    "slack_app_token",
    "slack_signing_secret",
    "huaweicloud_iam_password",
    "huaweicloud_sdk_ak",
    "huaweicloud_sdk_sk",
    "huaweicloud_sdk_security_token",
    "database_url",
)


class ConfigError(PersonError):
    """The configuration cannot work; the message names each variable to fix, one per line."""


class SecretFilesSource(PydanticBaseSettingsSource):
    """`NAME_FILE=/run/secrets/name`: the setting NAME is the file's content (a trailing newline dropped).

    An empty file counts as unset (as an empty variable does). NAME and NAME_FILE together are refused: which
    one was meant can't be known."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables: dict[str, str] = {}
        for source in sources:  # the environment first: it wins over `.env`
            for name, value in (getattr(source, "env_vars", None) or {}).items():
                if value:
                    self._variables.setdefault(name.lower(), value)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # all the work is in __call__

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        problems: list[str] = []
        for name in SECRET_SETTINGS:
            path = self._variables.get(f"{name}_file")
            if not path:
                continue
            env = name.upper()
            if self._variables.get(name):
                problems.append(f"{env} and {env}_FILE are both set: keep one.")
                continue
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
                problems.append(f"{env}_FILE: cannot read {path}: {reason}")
                continue
            if value:
                found[name] = value
        if problems:
            raise ConfigError("\n".join(problems))
        return found


class SettingsWithSecretFiles(BaseSettings):
    """Settings read from the constructor, the environment, `.env`, then the files NAME_FILE names."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = SecretFilesSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, dotenv_settings, files, file_secret_settings


class Settings(SettingsWithSecretFiles):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # --- Slack ---
    slack_bot_token: SecretStr | None = Field(None, description="Bot token `xoxb-…` (OAuth & Permissions).")
    slack_app_token: SecretStr | None = Field(None, description="App-level token `xapp-…` with `connections:write`.")
    slack_signing_secret: SecretStr | None = Field(None, description="Signing secret (HTTP mode).")
    slack_mode: Literal["socket", "http"] = Field("socket", description="`socket` (default) or `http`.")
    port: int = Field(
        3000,
        ge=1,
        le=65535,
        description="Port of `GET /healthz`, `/readyz`, `/metrics` (both modes) and, in HTTP mode, `POST /slack/events`.",
    )
    slack_api_url: str | None = Field(None, description="Slack Web API base URL (tests and proxies).")

    # --- Huawei Cloud ---
    huaweicloud_region: str = Field("cn-north-4", description="Region, e.g. `cn-north-4`, `ap-southeast-1`.")
    huaweicloud_sdk_project_id: str | None = Field(None, description="Project ID of the region.")
    huaweicloud_ddm_endpoint: str | None = Field(None, description="DDM endpoint; default from the region.")
    huaweicloud_iam_endpoint: str | None = Field(None, description="IAM endpoint; default from the region.")
    huaweicloud_iam_username: str | None = Field(None, description="Token auth: IAM user name.")
    huaweicloud_iam_password: SecretStr | None = Field(None, description="Token auth: IAM user password.")
    huaweicloud_iam_domain: str | None = Field(None, description="Token auth: account (domain) name.")
    huaweicloud_sdk_ak: SecretStr | None = Field(None, description="AK/SK auth: access key.")
    huaweicloud_sdk_sk: SecretStr | None = Field(None, description="AK/SK auth: secret key.")
    huaweicloud_sdk_security_token: SecretStr | None = Field(None, description="AK/SK auth: temporary key token.")
    huaweicloud_connect_timeout_seconds: float = Field(5.0, gt=0, description="Connect timeout of Huawei calls.")
    huaweicloud_read_timeout_seconds: float = Field(30.0, gt=0, description="Read timeout of Huawei calls.")
    ddm_calls_per_minute: int = Field(
        50, ge=1, description="DDM calls per minute the bot makes, all replicas together (DDM allows 60 per user)."
    )

    # --- Approval policy ---
    approver_user_ids: IdList = Field(default_factory=list, description="Slack user IDs who may approve.")
    approver_usergroup_ids: IdList = Field(default_factory=list, description="User group IDs whose members approve.")
    required_approvals: int = Field(1, ge=1, le=10, description="Distinct approvals needed.")
    allow_self_approval: bool = Field(False, description="Let requesters approve their own requests (not advised).")
    approval_ttl_minutes: float = Field(60, gt=0, description="A pending request expires after this.")
    allowed_channel_ids: IdList = Field(default_factory=list, description="Channels where requests may be made.")
    requester_user_ids: IdList = Field(default_factory=list, description="Who may request (empty: anyone).")
    requester_usergroup_ids: IdList = Field(default_factory=list, description="Groups whose members may request.")
    usergroup_cache_seconds: float = Field(120, ge=0, description="How long user-group membership is cached.")

    # --- Environments ---
    ddm_restore_config: str | None = Field(
        None,
        description="Environments file (TOML): channels -> project, region, credentials, approval stages; "
        "default `./ddm-restore.toml` when it exists. Without one, these settings make one environment.",
    )

    # --- Store and jobs ---
    database_url: str = Field(DEFAULT_DATABASE_URL, description="`sqlite+aiosqlite:///file` or `postgresql://…`.")
    job_poll_interval_seconds: float = Field(10, gt=0, description="How often a running restore job is polled.")
    reconcile_deadline_seconds: float = Field(
        900, gt=0, description="How long an unanswered restore is looked for in DDM's job list before it is failed."
    )
    job_lease_seconds: float = Field(
        30,
        gt=0,
        description="How long a replica's hold on shared background work (following jobs, delivering a request's "
        "notices) lasts without renewal; then another replica takes over.",
    )
    sweep_interval_seconds: float = Field(
        15, gt=0, description="How often expiries are applied and orphaned work is adopted."
    )
    submit_stale_seconds: float | None = Field(
        None,
        gt=0,
        description="A restore still being submitted after this long has lost its replica and is looked for in DDM's "
        "job list (default: twice the POST's deadline plus 10 s); must be longer than the POST's deadline.",
    )
    log_level: str = Field("INFO", description="Python log level.")
    log_format: Literal["text", "json"] = Field("text", description="`text` (readable) or `json` (one object a line).")
    socket_mode_watchdog_seconds: float = Field(
        120,
        ge=0,
        description="Socket Mode: reconnect when no envelope or ping came from Slack for this long (0: never).",
    )
    slack_connect_attempts: int = Field(
        5, ge=1, le=100, description="Start-up: how many times an unreachable Slack is tried before giving up."
    )
    slack_retry_backoff_seconds: float = Field(
        2.0, gt=0, le=60, description="Start-up: the first wait between Slack attempts (doubles each time)."
    )

    @field_validator(
        "approver_user_ids",
        "approver_usergroup_ids",
        "allowed_channel_ids",
        "requester_user_ids",
        "requester_usergroup_ids",
        mode="before",
    )
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").replace(" ", ",").split(",") if part.strip()]
        return value

    @field_validator("submit_stale_seconds")
    @classmethod
    def _stale_after_the_deadline(cls, value: float | None, info: ValidationInfo) -> float | None:
        # Sooner, a submit still waiting for DDM's answer would be taken for lost (and reconciled meanwhile).
        connect = info.data.get("huaweicloud_connect_timeout_seconds")
        read = info.data.get("huaweicloud_read_timeout_seconds")
        if value is not None and connect is not None and read is not None and value <= connect + read + 5:
            raise ValueError(
                f"must be longer than the restore POST's deadline, {connect + read + 5:g} s "
                "(HUAWEICLOUD_CONNECT_TIMEOUT_SECONDS + HUAWEICLOUD_READ_TIMEOUT_SECONDS + 5)"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"not a log level: use one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    # --- derived -------------------------------------------------------------------------------------------

    @property
    def ddm_endpoint(self) -> str:
        return self.huaweicloud_ddm_endpoint or _regional("ddm", self.huaweicloud_region)

    @property
    def iam_endpoint(self) -> str:
        return self.huaweicloud_iam_endpoint or _regional("iam", self.huaweicloud_region)

    @property
    def submit_deadline_seconds(self) -> float:
        """The longest one restore POST can take (DdmClient enforces it)."""
        return self.huaweicloud_connect_timeout_seconds + self.huaweicloud_read_timeout_seconds + 5

    @property
    def submitter_lost_after_seconds(self) -> float:
        """A SUBMITTING request older than this has lost its submitter: well past the POST's deadline."""
        return self.submit_stale_seconds or 2 * self.submit_deadline_seconds + 10

    @property
    def huawei_auth_mode(self) -> Literal["aksk", "token"]:
        """Which auth the settings select; raises ConfigError naming what is missing."""
        problems = self.huawei_problems()
        if problems:
            raise ConfigError("\n".join(problems))
        return "aksk" if self.huaweicloud_sdk_ak else "token"

    def huawei_problems(self) -> list[str]:
        problems: list[str] = []
        if not self.huaweicloud_sdk_project_id:
            problems.append("HUAWEICLOUD_SDK_PROJECT_ID is not set (the project ID of your region).")
        aksk = [self.huaweicloud_sdk_ak, self.huaweicloud_sdk_sk]
        token = [self.huaweicloud_iam_username, self.huaweicloud_iam_password, self.huaweicloud_iam_domain]
        if any(aksk):
            if not all(aksk):
                missing = "HUAWEICLOUD_SDK_SK" if self.huaweicloud_sdk_ak else "HUAWEICLOUD_SDK_AK"
                problems.append(f"{missing} is not set: AK/SK auth needs both HUAWEICLOUD_SDK_AK and _SK.")
        elif any(token):
            names = ("HUAWEICLOUD_IAM_USERNAME", "HUAWEICLOUD_IAM_PASSWORD", "HUAWEICLOUD_IAM_DOMAIN")
            for name, value in zip(names, token, strict=True):
                if not value:
                    problems.append(f"{name} is not set: token auth needs user name, password and domain.")
        else:
            problems.append(
                "HUAWEICLOUD_SDK_AK / HUAWEICLOUD_IAM_USERNAME: no Huawei Cloud credentials are set: set "
                "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (AK/SK auth), or HUAWEICLOUD_IAM_USERNAME, "
                "HUAWEICLOUD_IAM_PASSWORD and HUAWEICLOUD_IAM_DOMAIN (token auth)."
            )
        return problems

    def slack_problems(self) -> list[str]:
        problems: list[str] = []
        if not self.slack_bot_token:
            problems.append("SLACK_BOT_TOKEN is not set (OAuth & Permissions → Bot User OAuth Token, xoxb-…).")
        if self.slack_mode == "socket" and not self.slack_app_token:
            problems.append("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…).")
        if self.slack_mode == "http" and not self.slack_signing_secret:
            problems.append("SLACK_SIGNING_SECRET is not set: HTTP mode must verify Slack's signatures.")
        if self.slack_bot_token:
            problems += token_problems("SLACK_BOT_TOKEN", self.slack_bot_token.get_secret_value(), BOT_TOKEN)
        if self.slack_mode == "socket" and self.slack_app_token:
            problems += token_problems("SLACK_APP_TOKEN", self.slack_app_token.get_secret_value(), APP_TOKEN)
        return problems

    def policy_problems(self) -> list[str]:
        problems: list[str] = []
        if not self.approver_user_ids and not self.approver_usergroup_ids:
            problems.append(
                "APPROVER_USER_IDS / APPROVER_USERGROUP_IDS: no approvers are set, so nobody could approve a "
                "request; set one or both."
            )
        for name, ids, pattern, hint in (
            ("APPROVER_USER_IDS", self.approver_user_ids, USER_ID, USER_ID_HINT),
            ("APPROVER_USERGROUP_IDS", self.approver_usergroup_ids, GROUP_ID, GROUP_ID_HINT),
            ("REQUESTER_USER_IDS", self.requester_user_ids, USER_ID, USER_ID_HINT),
            ("REQUESTER_USERGROUP_IDS", self.requester_usergroup_ids, GROUP_ID, GROUP_ID_HINT),
        ):
            bad = [value for value in ids if not pattern.fullmatch(value)]
            if bad:
                problems.append(f"{name}: {', '.join(map(repr, bad))} {_not_ids(bad)}; {hint}.")
        # Without groups the approvers are known now; with groups only Slack can tell (check/run ask it).
        if self.approver_user_ids and not self.approver_usergroup_ids:
            possible = len(set(self.approver_user_ids))
            if self.required_approvals > possible:
                problems.append(
                    f"REQUIRED_APPROVALS={self.required_approvals} but APPROVER_USER_IDS names only {possible} "
                    "approver(s): no request could ever be approved."
                )
        return problems


@dataclass(frozen=True)
class TokenKind:
    prefixes: tuple[str, ...]  # what Slack's tokens of this kind start with
    what: str  # "the bot token (xoxb-…)"
    where: str  # where in the app's settings it is found


BOT_TOKEN = TokenKind(
    ("xoxb-", "xoxe.xoxb-"),  # the second: a bot token with token rotation on
    "the bot token (xoxb-…)",
    "OAuth & Permissions → Bot User OAuth Token",
)
APP_TOKEN = TokenKind(
    ("xapp-",),
    "an app-level token (xapp-…) with connections:write",
    "Basic Information → App-Level Tokens",
)
# Other kinds of Slack token, by prefix, as a person would name them.
_TOKEN_KINDS = {
    "xapp-": "an app-level token (xapp-…)",
    "xoxb-": "a bot token (xoxb-…)",
    "xoxe.xoxb-": "a bot token (xoxe.xoxb-…)",
    "xoxp-": "a user token (xoxp-…)",
    "xoxe.xoxp-": "a user token (xoxe.xoxp-…)",
    "xoxe-": "a refresh token (xoxe-…)",
    "xoxa-": "a workspace app token (xoxa-…)",
    "xoxs-": "a session token (xoxs-…)",
}


def token_problems(name: str, token: str, kind: TokenKind) -> list[str]:
    """What is wrong with `token` for setting `name`, told from its shape alone (the token is never shown: only
    the kind its prefix says it is)."""
    if token != token.strip() or any(mark in token for mark in "\"' \t"):
        return [f"{name}: has spaces or quotes in it; give the token alone, as Slack shows it."]
    if token.startswith(kind.prefixes):
        return []
    found = next((label for prefix, label in _TOKEN_KINDS.items() if token.startswith(prefix)), None)
    swapped = (kind is BOT_TOKEN and token.startswith("xapp-")) or (kind is APP_TOKEN and token.startswith("xoxb-"))
    if found is None:
        return [f"{name}: this is not a Slack token of the kind needed: give {kind.what}, from {kind.where}."]
    why = ": SLACK_BOT_TOKEN and SLACK_APP_TOKEN look swapped" if swapped else ""
    return [f"{name}: this is {found}, not {kind.what}{why}. Copy the right one from {kind.where}."]


def _not_ids(values: list[str]) -> str:
    return "is not an ID" if len(values) == 1 else "are not IDs"


def _regional(service: str, region: str) -> str:
    # EU sovereign regions live under .eu; the rest under .com.
    suffix = "myhuaweicloud.eu" if region.startswith("eu-west-1") else "myhuaweicloud.com"
    return f"https://{service}.{region}.{suffix}"


def normalise_database_url(url: str) -> str:
    """Accept the plain URL forms people paste and pick the async driver for them."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") or url == "sqlite://":
        return "sqlite+aiosqlite://" + url[len("sqlite:") + 2 :]
    return url


def load_settings(**overrides: object) -> Settings:
    """Read the settings; turn pydantic's errors into one line per variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "SETTINGS"
            secret = any(word in name for word in ("PASSWORD", "SECRET", "TOKEN", "_SK", "_AK"))
            shown = "" if secret else f" (got {error.get('input')!r})"
            message = str(error["msg"]).removeprefix("Value error, ")  # pydantic's prefix for our own validators
            lines.append(f"{name}: {message}{shown}")
        raise ConfigError("\n".join(lines)) from None
