"""Drills in the environments file: what a good one gives, and one line naming the key for each problem."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.envfile import parse_config, parse_file
from bot.restore.drills import RestorePoint

HEAD = """
[[environment]]
name = "prod"
channels = ["C0PROD", "C0MORE"]
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
credentials = { ak_env = "PROD_AK", sk_env = "PROD_SK" }

[[environment.stage]]
name = "DBA lead"
approvers = { usergroups = ["S0LEADS"] }
"""
DRILL = """
[[environment.drill]]
name = "orders weekly"
schedule = "0 3 * * MON"
timezone = "Asia/Shanghai"
source = "orders-prod"
targets = ["orders-drill-1", "orders-drill-2"]
restore_point = "-2h"
approval = "stages"
map = { "dn-a" = "dn-x" }
"""
SECRETS = {"PROD_AK": "ak", "PROD_SK": "sk"}


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(HEAD + text), SECRETS, where="envs.toml")
    return str(caught.value).splitlines()


def test_a_good_drill(tmp_path: Path) -> None:
    path = tmp_path / "envs.toml"
    path.write_text(HEAD + DRILL, encoding="utf-8")
    (setup,) = parse_file(path, SECRETS)
    (drill,) = setup.environment.drills
    assert (drill.name, drill.source, drill.targets) == (
        "orders weekly",
        "orders-prod",
        ("orders-drill-1", "orders-drill-2"),
    )
    assert (drill.approval, drill.restore_point, drill.mapping) == (
        "stages",
        RestorePoint("offset", timedelta(hours=2)),
        (("dn-a", "dn-x"),),
    )
    assert (drill.environment, drill.channel_id, drill.actor) == ("prod", "C0PROD", "drill:orders weekly")
    assert drill.config_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # Monday 03:00 in Shanghai is Sunday 19:00 UTC.
    assert drill.cron.next_after(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2026, 12, 6, 19, 0, tzinfo=UTC)


def test_defaults() -> None:
    (setup,) = parse_config(
        tomllib.loads(
            HEAD + '[[environment.drill]]\nname = "d"\nschedule = "* * * * *"\nsource = "s"\ntargets = ["t"]'
        ),
        SECRETS,
    )
    (drill,) = setup.environment.drills
    assert (drill.approval, drill.restore_point, drill.window, drill.cron.zone) == (
        "auto",
        RestorePoint("latest"),
        timedelta(hours=1),
        "UTC",
    )


BASE = '[[environment.drill]]\nname = "d"\nsource = "s"\ntargets = ["t"]\n'


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            BASE + 'schedule = "0 3 * *"',
            "envs.toml: environment.prod.drill[1].schedule: '0 3 * *' has 4 field(s); a schedule has five: "
            'minute hour day-of-month month day-of-week (such as "0 3 * * MON")',
        ),
        (
            BASE + 'schedule = "0 3 * * MONDAY"',
            "envs.toml: environment.prod.drill[1].schedule: day of the week: 'MONDAY' is not 0-7 or SUN..SAT",
        ),
        (
            BASE + 'schedule = "* * * * *"\ntimezone = "Mars/Olympus"',
            "envs.toml: environment.prod.drill[1].timezone: 'Mars/Olympus' is not a time zone; give one such as Asia/Shanghai or UTC",
        ),
        (
            BASE + 'schedule = "* * * * *"\nrestore_point = "yesterday"',
            'envs.toml: environment.prod.drill[1].restore_point: \'yesterday\' is not a restore point; use "latest", "random" or an age such as "-2h", "-30m"',
        ),
        (
            BASE + 'schedule = "* * * * *"\napproval = "none"',
            "envs.toml: environment.prod.drill[1].approval: Input should be 'auto' or 'stages'",
        ),
        (
            '[[environment.drill]]\nname = "d"\nsource = "s"\ntargets = []\nschedule = "* * * * *"',
            "envs.toml: environment.prod.drill[1].targets: List should have at least 1 item after validation, not 0",
        ),
        (
            '[[environment.drill]]\nname = "d"\nsource = "s"\ntargets = ["t", "t"]\nschedule = "* * * * *"',
            "envs.toml: environment.prod.drill[1].targets: a target is named twice",
        ),
        (BASE + 'schedule = "* * * * *"\ncolour = "red"', "envs.toml: environment.prod.drill[1].colour: unknown key"),
        (
            '[[environment.drill]]\nname = "d"\ntargets = ["t"]\nschedule = "* * * * *"',
            "envs.toml: environment.prod.drill[1].source: Field required",
        ),
        (
            BASE + 'schedule = "* * * * *"\n' + BASE + 'schedule = "* * * * *"',
            "envs.toml: environment.prod.drill[2].name: another drill is named 'd'",
        ),
    ],
)
def test_each_problem_is_one_line_naming_the_key(text: str, line: str) -> None:
    assert problems(text) == [line]
