"""Environments files for the bot under test (`running_bot(environments=…)`, `{sim}` standing for the simulator's
URL): two projects in two channels, approval stages, and the urgent path with its follow-up review."""

from __future__ import annotations

from datetime import timedelta

from bot.simulator import SimulatorCredentials
from tests.support.harness import PROJECT


def prod(channel: str = "CPROD", approvers: str = 'users = ["UBOB"]') -> str:
    """The "prod" environment on the simulator (AK/SK from PROD_AK/PROD_SK) with one stage, "DBA lead"; tests add
    their own sections after it."""
    return f"""
[[environment]]
name = "prod"
channels = ["{channel}"]
region = "cn-north-4"
project_id = "{PROJECT}"
ddm_endpoint = "{{sim}}"
iam_endpoint = "{{sim}}"
credentials = {{ ak_env = "PROD_AK", sk_env = "PROD_SK" }}

[[environment.stage]]
name = "DBA lead"
approvers = {{ {approvers} }}
"""


STAGING_PROJECT = "fedcba9876543210fedcba9876543210"
STAGING = SimulatorCredentials(
    project_id=STAGING_PROJECT, username="ddm-bot-staging", password="Staging-Pass!", domain="acme"
)
ENVIRONMENTS = (
    prod()
    + f"""
[[environment]]
name = "staging"
channels = ["CSTAGE"]
region = "ap-southeast-1"
project_id = "{STAGING_PROJECT}"
ddm_endpoint = "{{sim}}"
iam_endpoint = "{{sim}}"
credentials = {{ iam_username_env = "ST_USER", iam_password_env = "ST_PASSWORD", iam_domain_env = "ST_DOMAIN" }}

[[environment.stage]]
name = "Team"
approvers = {{ users = ["UDAN"] }}
"""
)

STAGED = (
    prod(approvers='usergroups = ["SLEADS"]')
    + """
[[environment.stage]]
name = "Service owner"
approvers = { users = ["UDAN"] }
"""
)

REVIEW_WITHIN = timedelta(hours=4)  # URGENT's follow-up review: tests move the clock past it
URGENT = (
    STAGED
    + """
[environment.urgent]
approvers = { users = ["UBOB"] }
required = 1
review_within_hours = 4
reviewers = { users = ["UCAROL", "UERIN"] }
"""
)
CHECKED = {"type": "checkboxes", "selected_options": [{"value": "urgent", "text": {"type": "plain_text", "text": "u"}}]}
