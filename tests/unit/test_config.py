"""Settings: clear errors naming the variable, derived endpoints, and docs that list every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings, normalise_database_url

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_endpoints_derive_from_region() -> None:
    s = settings(huaweicloud_region="ap-southeast-1")
    assert s.ddm_endpoint == "https://ddm.ap-southeast-1.myhuaweicloud.com"
    assert s.iam_endpoint == "https://iam.ap-southeast-1.myhuaweicloud.com"
    assert settings(huaweicloud_region="eu-west-101").ddm_endpoint == "https://ddm.eu-west-101.myhuaweicloud.eu"
    assert settings(huaweicloud_ddm_endpoint="http://127.0.0.1:9000").ddm_endpoint == "http://127.0.0.1:9000"


def test_auth_mode_and_missing_credentials_are_named() -> None:
    assert (
        settings(huaweicloud_sdk_project_id="p", huaweicloud_sdk_ak="a", huaweicloud_sdk_sk="s").huawei_auth_mode
        == "aksk"
    )
    token = settings(
        huaweicloud_sdk_project_id="p",
        huaweicloud_iam_username="u",
        huaweicloud_iam_password="pw",
        huaweicloud_iam_domain="d",
    )
    assert token.huawei_auth_mode == "token"
    with pytest.raises(ConfigError, match="HUAWEICLOUD_SDK_SK is not set"):
        _ = settings(huaweicloud_sdk_project_id="p", huaweicloud_sdk_ak="a").huawei_auth_mode
    with pytest.raises(ConfigError, match="HUAWEICLOUD_IAM_DOMAIN is not set"):
        _ = settings(
            huaweicloud_sdk_project_id="p", huaweicloud_iam_username="u", huaweicloud_iam_password="x"
        ).huawei_auth_mode
    problems = settings().huawei_problems()
    assert any("HUAWEICLOUD_SDK_PROJECT_ID" in p for p in problems)
    assert any(
        p.startswith("HUAWEICLOUD_SDK_AK / HUAWEICLOUD_IAM_USERNAME: no Huawei Cloud credentials") for p in problems
    )


def test_slack_and_policy_problems() -> None:
    assert any("SLACK_APP_TOKEN" in p for p in settings(slack_bot_token="xoxb-1").slack_problems())
    assert any(
        "SLACK_SIGNING_SECRET" in p for p in settings(slack_bot_token="xoxb-1", slack_mode="http").slack_problems()
    )
    assert settings().policy_problems() and not settings(approver_user_ids="U1").policy_problems()


@pytest.mark.parametrize(
    ("bot", "app", "expected"),
    [
        (
            "xapp-1-A0-x",
            "xoxb-1-2",
            ["SLACK_BOT_TOKEN: this is an app-level token", "SLACK_APP_TOKEN: this is a bot token"],
        ),
        ("xoxp-1-2", "xapp-1", ["SLACK_BOT_TOKEN: this is a user token (xoxp-…), not the bot token (xoxb-…)."]),
        ("hunter2", "xapp-1", ["SLACK_BOT_TOKEN: this is not a Slack token of the kind needed"]),
        ('"xoxb-1-2"', "xapp-1", ["SLACK_BOT_TOKEN: has spaces or quotes in it"]),
        ("xoxb-1-2", "xoxe-1-2", ["SLACK_APP_TOKEN: this is a refresh token (xoxe-…)"]),
        ("xoxb-1-2", "xapp-1", []),
        ("xoxe.xoxb-1-2", "xapp-1", []),  # a bot token with token rotation
    ],
)
def test_slack_tokens_of_the_wrong_kind_are_named_by_their_prefix(bot: str, app: str, expected: list[str]) -> None:
    problems = settings(slack_bot_token=bot, slack_app_token=app).slack_problems()
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)
        assert bot not in problem and app not in problem  # the token is never shown
    if bot.startswith("xapp-"):
        assert all("SLACK_BOT_TOKEN and SLACK_APP_TOKEN look swapped" in p for p in problems)


def test_an_app_token_is_not_judged_in_http_mode() -> None:
    quiet = settings(slack_bot_token="xoxb-1", slack_app_token="whatever", slack_mode="http", slack_signing_secret="s")
    assert quiet.slack_problems() == []


def test_every_settings_problem_starts_with_the_setting() -> None:
    bad = settings(
        slack_bot_token="xapp-1",
        approver_user_ids="alice",
        requester_usergroup_ids="leads",
        required_approvals=3,
        huaweicloud_sdk_ak="a",
    )
    problems = bad.slack_problems() + bad.policy_problems() + bad.huawei_problems() + settings().policy_problems()
    assert len(problems) >= 6
    assert all(re.match(r"^[A-Z][A-Z0-9_]+[ :=/]", p) for p in problems), problems


def test_lists_accept_commas_and_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVER_USER_IDS", "U1, U2 ,U3")
    assert Settings(_env_file=None).approver_user_ids == ["U1", "U2", "U3"]  # type: ignore[call-arg]


def test_bad_values_name_the_variable_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_APPROVALS", "zero")
    monkeypatch.setenv("SLACK_MODE", "carrier-pigeon")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    text = str(caught.value)
    assert "REQUIRED_APPROVALS" in text and "SLACK_MODE" in text and "carrier-pigeon" in text


def test_database_urls() -> None:
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("sqlite:///./x.sqlite3") == "sqlite+aiosqlite:///./x.sqlite3"
    assert normalise_database_url("sqlite+aiosqlite:///x") == "sqlite+aiosqlite:///x"


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    for name in Settings.model_fields:
        env = name.upper()
        assert env in documented, f"{env} is missing from .env.example"
        stem = env.rsplit("_", 1)[0]
        assert env in readme or f"{stem}_" in readme, f"{env} is missing from the README configuration table"


def test_approvers_must_be_ids_and_enough() -> None:
    names = settings(approver_user_ids="alice,U024BE7LH", approver_usergroup_ids="leads").policy_problems()
    assert any(p.startswith("APPROVER_USER_IDS: 'alice' is not an ID; a Slack user ID looks like U") for p in names)
    assert any(
        p.startswith("APPROVER_USERGROUP_IDS: 'leads' is not an ID; a user group ID looks like S") for p in names
    )
    assert not settings(approver_user_ids="U1,W2", approver_usergroup_ids="S1").policy_problems()
    too_many = settings(approver_user_ids="U1,U2,U1", required_approvals=3).policy_problems()
    assert too_many == [
        "REQUIRED_APPROVALS=3 but APPROVER_USER_IDS names only 2 approver(s): no request could ever be approved."
    ]
    # With groups only Slack knows how many approvers there are: `check` and `run` ask it.
    assert not settings(approver_user_ids="U1", approver_usergroup_ids="S1", required_approvals=3).policy_problems()


def test_log_level_is_a_known_one() -> None:
    assert settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ConfigError, match="LOG_LEVEL: not a log level: use one of DEBUG"):
        load_settings(_env_file=None, log_level="verbose")


def test_a_lost_submitter_is_told_from_a_slow_one_after_the_posts_deadline() -> None:
    """SUBMIT_STALE_SECONDS: by default twice the POST's deadline plus 10 s; set shorter (tests, impatient
    operators) it must still be longer than the deadline, or a slow POST would be taken for a lost one."""
    assert settings().submitter_lost_after_seconds == 2 * (5 + 30 + 5) + 10
    quick = dict(huaweicloud_connect_timeout_seconds=1, huaweicloud_read_timeout_seconds=1)
    assert settings(**quick, submit_stale_seconds=7.5).submitter_lost_after_seconds == 7.5
    with pytest.raises(
        ConfigError, match=r"^SUBMIT_STALE_SECONDS: must be longer than the restore POST's deadline, 7 s"
    ):
        load_settings(_env_file=None, **quick, submit_stale_seconds=7)
