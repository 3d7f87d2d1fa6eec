"""The environments file: what it accepts, and one line naming the key for each problem."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.envfile import load_setups, parse_config
from bot.envfile_secrets import read_secret
from bot.restore.plan import fingerprint_of

PROD_AND_STAGING = """
[[environment]]
name = "prod"
channels = ["C0PROD"]
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
credentials = { ak_env = "PROD_AK", sk_env = "PROD_SK" }
requesters = { usergroups = ["S0DBA"] }
approval_ttl_minutes = 60

[[environment.stage]]
name = "DBA lead"
approvers = { usergroups = ["S0LEADS"] }
required = 1

[[environment.stage]]
name = "Service owner"
approvers = { users = ["U0OWNER"] }
required = 1

[environment.urgent]
approvers = { usergroups = ["S0ONCALL"] }
required = 1
review_within_hours = 24
reviewers = { usergroups = ["S0LEADS"] }

[[environment]]
name = "staging"
channels = ["C0STAGE", "C0STAGE2"]
region = "ap-southeast-1"
project_id = "fedcba9876543210fedcba9876543210"
credentials = { iam_username_env = "ST_USER", iam_password_env = "ST_PASSWORD", iam_domain_env = "ST_DOMAIN" }
ddm_endpoint = "http://127.0.0.1:9000"

[[environment.stage]]
name = "Anyone on the team"
approvers = { users = ["U0ONE", "U0TWO"] }
required = 2
"""
SECRETS = {"PROD_AK": "ak", "PROD_SK": "sk", "ST_USER": "u", "ST_PASSWORD": "pw", "ST_DOMAIN": "d"}


def parse(text: str, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_config(tomllib.loads(text), SECRETS if environ is None else environ, where="envs.toml")


def problem(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, environ)
    return str(caught.value)


def test_the_example_file_gives_two_environments() -> None:
    prod, staging = parse(PROD_AND_STAGING)
    env = prod.environment
    assert (env.name, env.region, env.project_id, env.channel_ids) == (
        "prod",
        "cn-north-4",
        "0123456789abcdef0123456789abcdef",
        frozenset({"C0PROD"}),
    )
    assert env.label == "prod (cn-north-4)"
    assert prod.ddm_endpoint == "https://ddm.cn-north-4.myhuaweicloud.com"
    assert prod.credentials.mode == "aksk" and prod.credentials.sk and prod.credentials.sk.get_secret_value() == "sk"
    assert [s.name for s in env.policy.stages] == ["DBA lead", "Service owner"]
    assert env.policy.requester_group_ids == frozenset({"S0DBA"})
    assert env.policy.urgent is not None and env.policy.urgent.reviewer_group_ids == frozenset({"S0LEADS"})
    assert {"S0LEADS", "S0DBA", "S0ONCALL"} <= env.policy.groups_to_resolve
    assert staging.ddm_endpoint == "http://127.0.0.1:9000"
    assert staging.iam_endpoint == "https://iam.ap-southeast-1.myhuaweicloud.com"
    assert staging.credentials.mode == "token" and staging.credentials.domain == "d"


def test_an_unknown_key_is_named() -> None:
    text = PROD_AND_STAGING.replace("required = 2", "requird = 2")
    assert problem(text) == "envs.toml: environment.staging.stage[1].requird: unknown key"
    assert problem('colour = "blue"\n' + PROD_AND_STAGING) == "envs.toml: colour: unknown key"


def test_a_stage_requiring_more_approvers_than_it_has() -> None:
    text = PROD_AND_STAGING.replace("required = 2", "required = 3")
    assert problem(text) == (
        "envs.toml: environment.staging.stage[1].required: 3 approvals but approvers.users names only 2"
    )


def test_a_missing_secret_variable_is_named_and_no_secret_is_shown() -> None:
    environ = {k: v for k, v in SECRETS.items() if k != "PROD_SK"}
    assert problem(PROD_AND_STAGING, environ) == (
        "envs.toml: environment.prod.credentials.sk_env: PROD_SK is not set (nor PROD_SK_FILE)"
    )


VERIFY = """
[environment.verify]
user_env = "PROD_VERIFY_USER"
password_env = "PROD_VERIFY_PASSWORD"
timeout_seconds = 30
ready_within_minutes = 0.5

[[environment.verify.check]]
name = "orders restored"
database = "shop"
sql = "SELECT COUNT(*) FROM orders;"
expect = ">= 1"
"""
VERIFY_SECRETS = SECRETS | {"PROD_VERIFY_USER": "verifier", "PROD_VERIFY_PASSWORD": "s3cret-verify"}


def with_verify(verify: str = VERIFY) -> str:
    """The example file with `verify` in prod (before staging begins)."""
    head, staging = PROD_AND_STAGING.split('\n[[environment]]\nname = "staging"')
    return head + verify + '\n[[environment]]\nname = "staging"' + staging


def test_the_verify_section_gives_the_rule_and_the_account() -> None:
    prod, staging = parse(with_verify(), VERIFY_SECRETS)
    rule = prod.environment.verify
    assert rule.ready_within == timedelta(seconds=30) and rule.timeout_seconds == 30
    (check,) = rule.checks
    assert (check.name, check.database, check.sql, str(check.expect)) == (
        "orders restored",
        "shop",
        "SELECT COUNT(*) FROM orders",
        ">= 1",
    )
    assert prod.verify_account is not None and prod.verify_account[0] == "verifier"
    assert prod.verify_account[1].get_secret_value() == "s3cret-verify"
    # Without a section: DDM's level only, within the default bound.
    assert staging.environment.verify.checks == () and staging.environment.verify.ready_within == timedelta(minutes=15)
    assert staging.verify_account is None


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            ('sql = "SELECT COUNT(*) FROM orders;"', 'sql = "DELETE FROM orders"'),
            "environment.prod.verify.check[1].sql: only a single SELECT statement is accepted: it starts with DELETE, "
            "not SELECT",
        ),
        (
            ('sql = "SELECT COUNT(*) FROM orders;"', 'sql = "SELECT 1; DROP TABLE orders"'),
            "environment.prod.verify.check[1].sql: only a single SELECT statement is accepted: it holds more than one "
            "statement (a ; inside it)",
        ),
        (
            ('expect = ">= 1"', 'expect = "at least one"'),
            "environment.prod.verify.check[1].expect: 'at least one' is not a comparison: write = N, >= N, > N, <= N "
            'or < N (e.g. ">= 1")',
        ),
        (
            ("ready_within_minutes = 0.5", "ready_within_minutes = 0"),
            "environment.prod.verify.ready_within_minutes: Input should be greater than 0",
        ),
        (
            ('user_env = "PROD_VERIFY_USER"\n', ""),
            "environment.prod.verify.user_env: missing (name the variable of the checks' read-only account)",
        ),
        (
            ('password_env = "PROD_VERIFY_PASSWORD"', 'password_env = "NOT_SET_ANYWHERE"'),
            "environment.prod.verify.password_env: NOT_SET_ANYWHERE is not set (nor NOT_SET_ANYWHERE_FILE)",
        ),
        (("timeout_seconds = 30", "timeout_secs = 30"), "environment.prod.verify.timeout_secs: unknown key"),
    ],
)
def test_a_bad_verify_section_is_refused_in_one_line_naming_the_key(change: tuple[str, str], line: str) -> None:
    text = with_verify(VERIFY.replace(*change))
    assert problem(text, VERIFY_SECRETS) == f"envs.toml: {line}"


def test_two_checks_of_one_name_are_refused_and_no_secret_is_shown() -> None:
    twice = VERIFY + VERIFY[VERIFY.index("[[environment.verify.check]]") :]
    message = problem(with_verify(twice), VERIFY_SECRETS)
    assert message == "envs.toml: environment.prod.verify.check[2].name: another check is named 'orders restored'"
    assert "s3cret" not in message and "verifier" not in message


def test_a_channel_in_two_environments() -> None:
    text = PROD_AND_STAGING.replace('"C0STAGE2"', '"C0PROD"')
    assert problem(text) == "envs.toml: environment.staging.channels: C0PROD is already in environment 'prod'"


def test_bad_values_are_one_line_each() -> None:
    text = PROD_AND_STAGING.replace('users = ["U0OWNER"]', 'users = ["bob"]')
    lines = problem(text).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("envs.toml: environment.prod.stage[2].approvers.users: 'bob' not a user ID")
    no_stage = "\n".join(line for line in PROD_AND_STAGING.splitlines()[:8])
    assert "environment.prod.stage: Field required" in problem(no_stage)


def test_secrets_may_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "sk"
    secret.write_text("from-file\n")
    assert read_secret("PROD_SK", {"PROD_SK_FILE": str(secret)}) == "from-file"
    assert read_secret("PROD_SK", {"PROD_SK": "direct", "PROD_SK_FILE": str(secret)}) == "direct"
    assert read_secret("PROD_SK", {}) is None


def test_without_a_file_the_settings_are_the_one_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        huaweicloud_sdk_project_id="p1",
        huaweicloud_sdk_ak="a",
        huaweicloud_sdk_sk="s",
        approver_user_ids=["UBOB"],
        required_approvals=1,
    )
    setups = load_setups(settings)
    assert setups.path is None
    environments = setups.environments
    assert environments.single
    env = environments.for_channel("CANY")
    assert env is not None and env.name == "" and env.project_id == "p1" and env.label == "cn-north-4"
    assert env.policy.approver_user_ids == frozenset({"UBOB"}) and env.policy.stages == ()
    # ./ddm-restore.toml is used when it exists; DDM_RESTORE_CONFIG names another.
    (tmp_path / "ddm-restore.toml").write_text(PROD_AND_STAGING)
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    setups = load_setups(settings)
    assert setups.path == Path("ddm-restore.toml")
    environments = setups.environments
    assert environments.for_channel("CANY") is None
    prod = environments.for_channel("C0PROD")
    assert prod is not None and prod.name == "prod"
    assert environments.not_set_up("CANY") == (
        "This channel is not set up for restores. Restores can be requested in <#C0PROD>, <#C0STAGE>, <#C0STAGE2>."
    )
    missing = settings.model_copy(update={"ddm_restore_config": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigError, match=r"^DDM_RESTORE_CONFIG: cannot read"):
        load_setups(missing)


def test_the_environment_is_part_of_the_fingerprint_only_when_named() -> None:
    from tests.support.domain_request import plan

    unnamed = plan()
    # Plans from before environments hash as they always did (their approvals still verify).
    assert unnamed.environment == "" and unnamed.fingerprint() == fingerprint_of(
        unnamed.project_id, unnamed.source.id, unnamed.restore_body()
    )
    prod, staging = (unnamed.model_copy(update={"environment": name}) for name in ("prod", "staging"))
    assert len({unnamed.fingerprint(), prod.fingerprint(), staging.fingerprint()}) == 3


def test_the_simulator_serves_each_environments_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import environment_projects

    config = tmp_path / "envs.toml"
    config.write_text(PROD_AND_STAGING)
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None, ddm_restore_config=str(config))  # type: ignore[call-arg]
    prod, staging = environment_projects(settings)
    assert (prod.project_id, prod.ak, prod.sk) == ("0123456789abcdef0123456789abcdef", "ak", "sk")
    assert (staging.project_id, staging.username, staging.password, staging.domain) == (
        "fedcba9876543210fedcba9876543210",
        "u",
        "pw",
        "d",
    )
    monkeypatch.chdir(tmp_path)  # no ./ddm-restore.toml here: the settings' one project
    assert environment_projects(Settings(_env_file=None)) == []  # type: ignore[call-arg]
