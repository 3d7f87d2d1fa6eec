"""Routing rules in the environments file: what a good file gives, and one line naming the key for each problem
(unknown stage names, bad globs, bad times and zones, a rule no request can reach)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.envfile import parse_config
from bot.restore.rules import Conditions, Rule, Window
from bot.serving.preflight import settings_findings

HEAD = """
[[environment]]
name = "prod"
channels = ["C0PROD"]
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
credentials = { ak_env = "PROD_AK", sk_env = "PROD_SK" }

[[environment.stage]]
name = "DBA lead"
approvers = { usergroups = ["S0LEADS"] }

[[environment.stage]]
name = "Service owner"
approvers = { users = ["U0OWNER"] }
"""
RULES = """
[[environment.rule]]
name = "old restore point"
when = { restore_point_older_than_hours = 24 }
flow = ["DBA lead", "Service owner"]

[[environment.rule]]
name = "change freeze"
when = { weekdays = ["SAT", "sun"], between = "00:00-23:59", timezone = "Asia/Shanghai" }
refuse = "Restores are frozen at weekends; use the urgent path for incidents."

[[environment.rule]]
name = "drill targets"
when = { target_matches = "*-drill-*", data_nodes_at_least = 2, requester_in = { usergroups = ["S0DBA"] } }
flow = ["DBA lead"]
"""
SECRETS = {"PROD_AK": "ak", "PROD_SK": "sk"}


def rules_of(text: str) -> tuple[Rule, ...]:
    (setup,) = parse_config(tomllib.loads(HEAD + text), SECRETS, where="envs.toml")
    return setup.environment.policy.rules


def problems(rules: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(HEAD + rules), SECRETS, where="envs.toml")
    return str(caught.value).splitlines()


def test_the_rules_of_a_good_file() -> None:
    old, freeze, drill = rules_of(RULES)
    assert old == Rule(
        "old restore point", Conditions(older_than=timedelta(hours=24)), flow=("DBA lead", "Service owner")
    )
    assert freeze.refuse == "Restores are frozen at weekends; use the urgent path for incidents."
    assert freeze.when == Conditions(window=Window(frozenset({5, 6}), 0, 23 * 60 + 59, "Asia/Shanghai"))
    assert drill.when == Conditions(
        target_glob="*-drill-*", data_nodes_at_least=2, requester_group_ids=frozenset({"S0DBA"})
    )
    # The groups the rules name are resolved too (who is in them decides a rule).
    (setup,) = parse_config(tomllib.loads(HEAD + RULES), SECRETS)
    assert "S0DBA" in setup.environment.policy.groups_to_resolve
    # Without rules: none (the environment's stages for every request).
    assert rules_of("") == ()
    # A window of days only (all day), or of hours only (every day), in UTC unless told.
    (days_only,) = rules_of('[[environment.rule]]\nname = "w"\nwhen = { weekdays = ["MON"] }\nrefuse = "no"\n')
    assert days_only.when.window == Window(frozenset({0}), 0, 24 * 60 - 1, "UTC")
    (hours_only,) = rules_of('[[environment.rule]]\nname = "h"\nwhen = { between = "22:00-06:30" }\nrefuse = "no"\n')
    assert hours_only.when.window == Window(frozenset(range(7)), 22 * 60, 6 * 60 + 30, "UTC")


@pytest.mark.parametrize(
    ("rule", "line"),
    [
        (
            'name = "r"\nflow = ["DBA"]',
            "envs.toml: environment.prod.rule[1].flow: 'DBA' not a stage of prod (its stages: 'DBA lead', "
            "'Service owner')",
        ),
        ('name = "r"\nflow = []', "envs.toml: environment.prod.rule[1].flow: name at least one stage"),
        (
            'name = "r"\nflow = ["DBA lead", "DBA lead"]',
            "envs.toml: environment.prod.rule[1].flow: a stage is named twice",
        ),
        (
            'name = "r"\nflow = ["DBA lead"]\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1]: give flow (stage names, in order) or refuse (a message), one of them",
        ),
        (
            'name = "r"',
            "envs.toml: environment.prod.rule[1]: give flow (stage names, in order) or refuse (a message), one of them",
        ),
        ('name = "r"\nrefuse = " "', "envs.toml: environment.prod.rule[1].refuse: give the message people are shown"),
        (
            'name = "r"\nwhen = { target_matches = "orders-[ab" }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.target_matches: the [ at position 8 is never closed",
        ),
        (
            'name = "r"\nwhen = { source_matches = "" }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.source_matches: an empty pattern matches nothing; give a name, "
            "an id or a glob such as *-drill-*",
        ),
        (
            'name = "r"\nwhen = { between = "24:00-06:00" }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.between: '24:00-06:00' is not a range of times of day; write "
            "it as 22:00-06:00 (24-hour clock)",
        ),
        (
            'name = "r"\nwhen = { weekdays = ["SATURDAY"] }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.weekdays: 'SATURDAY' not a weekday; use MON, TUE, WED, THU, "
            "FRI, SAT, SUN",
        ),
        (
            'name = "r"\nwhen = { weekdays = ["SAT"], timezone = "Mars/Olympus" }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.timezone: 'Mars/Olympus' is not a time zone; give one such as "
            "Asia/Shanghai or UTC",
        ),
        (
            'name = "r"\nwhen = { timezone = "UTC" }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.timezone: only used with weekdays or between",
        ),
        (
            'name = "r"\nwhen = { restore_point_older_than_hours = -1 }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.restore_point_older_than_hours: Input should be greater than 0",
        ),
        (
            'name = "r"\nwhen = { restore_point_older_than_hours = 24, restore_point_newer_than_hours = 12 }\n'
            'refuse = "no"',
            "envs.toml: environment.prod.rule[1]: no request can reach it: no restore point is older than 24 h and "
            "newer than 12 h at once",
        ),
        (
            'name = "r"\nwhen = { requester_in = {} }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.requester_in: name at least one user or user group",
        ),
        (
            'name = "r"\nwhen = { colour = "red" }\nrefuse = "no"',
            "envs.toml: environment.prod.rule[1].when.colour: unknown key",
        ),
    ],
)
def test_each_problem_is_one_line_naming_the_key(rule: str, line: str) -> None:
    assert problems(f"[[environment.rule]]\n{rule}\n") == [line]


def test_a_rule_shadowed_by_an_earlier_one_and_names_twice() -> None:
    shadowed = """
[[environment.rule]]
name = "old restore point"
when = { restore_point_older_than_hours = 24 }
flow = ["DBA lead", "Service owner"]

[[environment.rule]]
name = "ancient drills"
when = { restore_point_older_than_hours = 72, target_matches = "*-drill-*" }
flow = ["DBA lead"]

[[environment.rule]]
name = "old restore point"
when = { target_matches = "*-drill-*" }
flow = ["DBA lead"]
"""
    assert problems(shadowed) == [
        "envs.toml: environment.prod.rule[3].name: another rule is named 'old restore point'",
    ]
    fixed = shadowed.replace(
        'name = "old restore point"\nwhen = { target_matches', 'name = "drills"\nwhen = { target_matches'
    )
    assert problems(fixed) == [
        "envs.toml: environment.prod.rule[2]: no request can reach it: rule[1] ('old restore point') comes first and "
        "takes every request it would",
    ]
    weekend_then_sunday = """
[[environment.rule]]
name = "change freeze"
when = { weekdays = ["SAT", "SUN"], between = "00:00-23:59", timezone = "Asia/Shanghai" }
refuse = "frozen"

[[environment.rule]]
name = "sunday nights"
when = { weekdays = ["SUN"], between = "20:00-23:00", timezone = "Asia/Shanghai" }
flow = ["DBA lead"]
"""
    assert problems(weekend_then_sunday) == [
        "envs.toml: environment.prod.rule[2]: no request can reach it: rule[1] ('change freeze') comes first and "
        "takes every request it would",
    ]


def test_two_stages_of_one_name_are_refused_since_rules_name_stages() -> None:
    twice = HEAD.replace('name = "Service owner"', 'name = "DBA lead"')
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(twice), SECRETS, where="envs.toml")
    assert str(caught.value) == (
        "envs.toml: environment.prod.stage: two stages have one name; rules name stages, so each needs its own"
    )


def test_check_and_the_start_up_report_the_rules_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ddm-restore.toml"
    path.write_text(HEAD + '[[environment.rule]]\nname = "r"\nflow = ["DBA"]\n', encoding="utf-8")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None, slack_bot_token="xoxb-1", ddm_restore_config=str(path))  # type: ignore[call-arg]
    lines = [finding.text for finding in settings_findings(settings) if not finding.ok]
    assert (
        f"{path}: environment.prod.rule[1].flow: 'DBA' not a stage of prod (its stages: 'DBA lead', 'Service owner')"
        in lines
    )


def test_stage_and_rule_names_are_plain_words_since_people_read_them_as_written() -> None:
    """The card, `policy` and the form show these names as the file gives them: markup or a mention is refused."""
    for bad in ('name = "DBA <!channel>"', 'name = "*urgent*"'):
        marked = HEAD.replace('name = "Service owner"', bad, 1)
        with pytest.raises(ConfigError) as caught:
            parse_config(tomllib.loads(marked), SECRETS, where="envs.toml")
        assert str(caught.value).startswith("envs.toml: environment.prod.stage[2].name: "), str(caught.value)
    rule = HEAD + '[[environment.rule]]\nname = "freeze <@U1>"\nrefuse = "no"\nwhen = { target_matches = "*" }\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(rule), SECRETS, where="envs.toml")
    assert "environment.prod.rule[1].name: " in str(caught.value)
