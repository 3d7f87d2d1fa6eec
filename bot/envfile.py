"""The environments configuration file (TOML): channels -> project, region, credentials and approval rules.

Found through DDM_RESTORE_CONFIG, else ./ddm-restore.toml when that file exists; without one, the settings
define one environment for every channel. Secrets never go in the file: it names the environment variables
that hold them (a `NAME_FILE` variable naming a file works too). Every problem is one line naming the key.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from bot.config import ConfigError, Settings, _regional
from bot.envfile_secrets import Credentials, credentials_from, process_environ, read_secret
from bot.envfile_shape import (
    ConfigFile,
    DrillConfig,
    EnvironmentConfig,
    RemindersConfig,
    RuleConfig,
    VerifyConfig,
    Who,
)
from bot.restore.cron import parse_cron
from bot.restore.drills import Drill, parse_restore_point
from bot.restore.environment import Environment, Environments
from bot.restore.flow import Stage
from bot.restore.policy import ApprovalPolicy, UrgentRule
from bot.restore.reminders import ReminderRule
from bot.restore.rules import Rule, unreachable
from bot.restore.verification import SqlCheck, VerifyRule, parse_expect

DEFAULT_FILE = "ddm-restore.toml"


@dataclass(frozen=True)
class EnvironmentSetup:
    """One environment with what it takes to reach DDM (not domain: endpoints and secrets)."""

    environment: Environment
    ddm_endpoint: str
    iam_endpoint: str
    credentials: Credentials
    names: str = ""  # which variables hold the credentials (for `check`'s lines)
    verify_account: tuple[str, SecretStr] | None = None  # the read-only account of the SQL checks


@dataclass(frozen=True)
class Setups:
    all: tuple[EnvironmentSetup, ...]
    path: Path | None = None  # the file they came from; None: from the settings

    @property
    def environments(self) -> Environments:
        return Environments(tuple(s.environment for s in self.all))


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


def config_path(settings: Settings) -> Path | None:
    """The configuration file in use, or None (then the settings define the one environment)."""
    if settings.ddm_restore_config:
        return Path(settings.ddm_restore_config)
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load_setups(settings: Settings, environ: Mapping[str, str] | None = None) -> Setups:
    """The environments to serve; raises ConfigError (one line per problem, naming the key)."""
    path = config_path(settings)
    if path is None:
        return Setups((settings_setup(settings),))
    return Setups(parse_file(path, environ if environ is not None else process_environ()), path)


def settings_setup(settings: Settings) -> EnvironmentSetup:
    """Today's one environment from the settings (their own problems are reported by Settings)."""
    ak = settings.huaweicloud_sdk_ak
    credentials = Credentials(
        ak=ak,
        sk=settings.huaweicloud_sdk_sk,
        security_token=settings.huaweicloud_sdk_security_token,
        username=None if ak else settings.huaweicloud_iam_username,
        password=None if ak else settings.huaweicloud_iam_password,
        domain=None if ak else settings.huaweicloud_iam_domain,
    )
    names = "HUAWEICLOUD_SDK_AK/_SK" if ak else "HUAWEICLOUD_IAM_USERNAME/_PASSWORD/_DOMAIN"
    environment = Environment(
        name="",
        region=settings.huaweicloud_region,
        project_id=settings.huaweicloud_sdk_project_id or "",
        policy=policy_from(settings),
    )
    return EnvironmentSetup(environment, settings.ddm_endpoint, settings.iam_endpoint, credentials, names)


def parse_file(path: Path, environ: Mapping[str, str]) -> tuple[EnvironmentSetup, ...]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"DDM_RESTORE_CONFIG: cannot read {where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    # With `approval = "auto"` the file is a drill's approval: its hash goes in the audit.
    return parse_config(raw, environ, where=where, digest=hashlib.sha256(text.encode()).hexdigest())


def parse_config(
    raw: dict[str, Any], environ: Mapping[str, str], *, where: str = DEFAULT_FILE, digest: str = ""
) -> tuple[EnvironmentSetup, ...]:
    try:
        config = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{where}: {_error_line(raw, e)}" for e in exc.errors())) from None
    problems: list[str] = []
    setups: list[EnvironmentSetup] = []
    owner: dict[str, str] = {}
    drill_names: set[str] = set()
    for env in config.environment:
        key = f"environment.{env.name}"
        if env.name in {s.environment.name for s in setups}:
            problems.append(f"{key}.name: another environment is named {env.name!r}")
        for channel in env.channels:
            if channel in owner:
                problems.append(f"{key}.channels: {channel} is already in environment {owner[channel]!r}")
            owner.setdefault(channel, env.name)
        for index, stage in enumerate(env.stage, start=1):
            problems += _enough(f"{key}.stage[{index}]", stage.approvers, stage.required)
        if len({stage.name for stage in env.stage}) < len(env.stage):
            problems.append(f"{key}.stage: two stages have one name; rules name stages, so each needs its own")
        rule_problems = _rule_problems(key, env)
        problems += rule_problems
        if env.urgent is not None:
            problems += _enough(f"{key}.urgent", env.urgent.approvers, env.urgent.required)
            if env.urgent.reviewers.empty:
                problems.append(f"{key}.urgent.reviewers: name at least one user or user group")
        credentials, secret_problems = credentials_from(f"{key}.credentials", env.credentials, environ)
        problems += secret_problems
        account, verify_problems = _verify_account(f"{key}.verify", env.verify, environ)
        problems += verify_problems
        for index, drill in enumerate(env.drill, start=1):
            if drill.name.casefold() in drill_names:
                problems.append(f"{key}.drill[{index}].name: another drill is named {drill.name!r}")
            drill_names.add(drill.name.casefold())
        setups.append(_setup(env, credentials, account, with_rules=not rule_problems, digest=digest))
    if problems:
        raise ConfigError("\n".join(f"{where}: {line}" for line in problems))
    return tuple(setups)


def _setup(
    env: EnvironmentConfig,
    credentials: Credentials,
    account: tuple[str, SecretStr] | None = None,
    *,
    with_rules: bool = True,
    digest: str = "",
) -> EnvironmentSetup:
    requesters = env.requesters or Who()
    stages = tuple(
        Stage(s.name, frozenset(s.approvers.users), frozenset(s.approvers.usergroups), s.required) for s in env.stage
    )
    urgent = None
    if env.urgent is not None:
        u = env.urgent
        urgent = UrgentRule(
            approver_user_ids=frozenset(u.approvers.users),
            approver_group_ids=frozenset(u.approvers.usergroups),
            required=u.required,
            review_within=timedelta(hours=u.review_within_hours),
            reviewer_user_ids=frozenset(u.reviewers.users),
            reviewer_group_ids=frozenset(u.reviewers.usergroups),
        )
    first = stages[0]
    policy = ApprovalPolicy(
        approver_user_ids=first.approver_user_ids,
        approver_group_ids=first.approver_group_ids,
        required_approvals=first.required,
        allow_self_approval=env.allow_self_approval,
        ttl=timedelta(minutes=env.approval_ttl_minutes),
        requester_user_ids=frozenset(requesters.users),
        requester_group_ids=frozenset(requesters.usergroups),
        allowed_channel_ids=frozenset(env.channels),
        stages=stages,
        urgent=urgent,
        rules=tuple(_rule(rule) for rule in env.rule) if with_rules else (),
        reminders=_reminders(env.reminders),
    )
    c = env.credentials
    names = f"{c.ak_env}/{c.sk_env}" if c.ak_env else f"{c.iam_username_env}/{c.iam_password_env}/{c.iam_domain_env}"
    return EnvironmentSetup(
        environment=Environment(
            env.name,
            env.region,
            env.project_id,
            policy,
            frozenset(env.channels),
            _verify_rule(env.verify),
            tuple(_drill(env, drill, digest) for drill in env.drill),
        ),
        ddm_endpoint=env.ddm_endpoint or _regional("ddm", env.region),
        iam_endpoint=env.iam_endpoint or _regional("iam", env.region),
        credentials=credentials,
        names=names,
        verify_account=account,
    )


def _reminders(config: RemindersConfig | None) -> ReminderRule | None:
    if config is None:
        return None
    escalate_to = config.escalate_to or Who()
    return ReminderRule(
        remind_after=timedelta(minutes=config.remind_after_minutes),
        repeat_every=_minutes_or_none(config.repeat_every_minutes),
        escalate_after=_minutes_or_none(config.escalate_after_minutes),
        escalate_user_ids=frozenset(escalate_to.users),
        escalate_group_ids=frozenset(escalate_to.usergroups),
        nudge_cooldown=timedelta(minutes=config.nudge_cooldown_minutes),
    )


def _minutes_or_none(minutes: float | None) -> timedelta | None:
    return None if minutes is None else timedelta(minutes=minutes)


def _drill(env: EnvironmentConfig, config: DrillConfig, digest: str) -> Drill:
    return Drill(
        name=config.name,
        schedule=config.schedule,
        cron=parse_cron(config.schedule, config.timezone),
        source=config.source,
        targets=tuple(config.targets),
        restore_point=parse_restore_point(config.restore_point),
        approval=config.approval,
        mapping=tuple(config.map.items()),
        window=timedelta(minutes=config.window_minutes),
        environment=env.name,
        channel_id=env.channels[0],
        config_sha256=digest,
    )


def _verify_rule(config: VerifyConfig | None) -> VerifyRule:
    if config is None:
        return VerifyRule()
    return VerifyRule(
        ready_within=timedelta(minutes=config.ready_within_minutes),
        timeout_seconds=config.timeout_seconds,
        checks=tuple(SqlCheck(c.name, c.database, c.sql, parse_expect(c.expect)) for c in config.check),
    )


def _verify_account(
    key: str, config: VerifyConfig | None, environ: Mapping[str, str]
) -> tuple[tuple[str, SecretStr] | None, list[str]]:
    """The read-only account the checks run with (named by variables, like every secret)."""
    if config is None:
        return None, []
    problems: list[str] = []
    seen: set[str] = set()
    for index, check in enumerate(config.check, start=1):
        if check.name in seen:
            problems.append(f"{key}.check[{index}].name: another check is named {check.name!r}")
        seen.add(check.name)
    if not config.check:
        return None, problems
    values: list[str | None] = []
    for field, name in (("user_env", config.user_env), ("password_env", config.password_env)):
        if not name:
            problems.append(f"{key}.{field}: missing (name the variable of the checks' read-only account)")
            values.append(None)
            continue
        value = read_secret(name, environ)
        if value is None:
            problems.append(f"{key}.{field}: {name} is not set (nor {name}_FILE)")
        values.append(value)
    user, password = values
    if user is None or password is None:
        return None, problems
    return (user, SecretStr(password)), problems


def _rule(rule: RuleConfig) -> Rule:
    return Rule(rule.name, rule.when.conditions(), tuple(rule.flow or ()), rule.refuse or "")


def _rule_problems(key: str, env: EnvironmentConfig) -> list[str]:
    """What makes an environment's routing rules wrong: one line each, naming the rule's key."""
    problems: list[str] = []
    stages = [stage.name for stage in env.stage]
    names: set[str] = set()
    for index, rule in enumerate(env.rule, start=1):
        where = f"{key}.rule[{index}]"
        if rule.name in names:
            problems.append(f"{where}.name: another rule is named {rule.name!r}")
        names.add(rule.name)
        if (rule.flow is None) == (rule.refuse is None):
            problems.append(f"{where}: give flow (stage names, in order) or refuse (a message), one of them")
        elif rule.flow is not None:
            unknown = [name for name in rule.flow if name not in stages]
            if not rule.flow:
                problems.append(f"{where}.flow: name at least one stage")
            elif unknown:
                problems.append(
                    f"{where}.flow: {', '.join(map(repr, unknown))} not a stage of {env.name} "
                    f"(its stages: {', '.join(map(repr, stages))})"
                )
            elif len(set(rule.flow)) < len(rule.flow):
                problems.append(f"{where}.flow: a stage is named twice")
        elif rule.refuse is not None and not rule.refuse.strip():
            problems.append(f"{where}.refuse: give the message people are shown")
        when = rule.when
        if when.timezone is not None and when.weekdays is None and when.between is None:
            problems.append(f"{where}.when.timezone: only used with weekdays or between")
        if when.requester_in is not None and when.requester_in.empty:
            problems.append(f"{where}.when.requester_in: name at least one user or user group")
    if not problems:
        rules = [_rule(rule) for rule in env.rule]
        problems += [f"{key}.rule[{index + 1}]: no request can reach it: {why}" for index, why in unreachable(rules)]
    return problems


def _enough(key: str, who: Who, required: int) -> list[str]:
    if who.empty:
        return [f"{key}.approvers: name at least one user or user group"]
    # Without groups the approvers are known now; with groups only Slack can tell.
    if not who.usergroups and required > len(set(who.users)):
        return [f"{key}.required: {required} approvals but approvers.users names only {len(set(who.users))}"]
    return []


def _error_line(raw: dict[str, Any], error: Any) -> str:
    """pydantic's error as `environment.prod.stage[2].required: message`."""
    parts: list[str] = []
    node: Any = raw
    loc = list(error["loc"])
    for i, item in enumerate(loc):
        if isinstance(item, int):
            name = node[item].get("name") if isinstance(node, list) and item < len(node) else None
            if parts and parts[-1] == "environment" and isinstance(name, str):
                parts[-1] = f"environment.{name}"
            elif parts:
                parts[-1] = f"{parts[-1]}[{item + 1}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
        del i
    key = ".".join(parts) or "file"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key}: {message}"
