"""`/ddm-restore whoami`: what it takes, what the policy decides for one person in one channel, and its words."""

from __future__ import annotations

import pytest

from bot.restore.environment import Environment, Environments, Standing
from bot.restore.flow import Stage
from bot.restore.policy import Actor, ApprovalPolicy, UrgentRule
from bot.slack.blocks.whoami import whoami_text
from bot.slack.command_text import USAGE, ShowHelp, ShowWhoami, parse_command

STAGES = (
    Stage("DBA <lead>", approver_group_ids=frozenset({"SLEADS"})),
    Stage("Service owner", approver_user_ids=frozenset({"UDAN"})),
)
PROD = Environment(
    "prod",
    "cn-north-4",
    "p1",
    ApprovalPolicy(
        stages=STAGES,
        requester_user_ids=frozenset({"UALICE", "UDAN"}),
        urgent=UrgentRule(approver_user_ids=frozenset({"UBOB"})),
    ),
    channel_ids=frozenset({"CPROD"}),
)
ENVS = Environments((PROD,))
ALICE = Actor("UALICE")
LEAD = Actor("UCAROL", group_ids=frozenset({"SLEADS"}))


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("whoami", ShowWhoami()),
        ("  WhoAmI  ", ShowWhoami()),
        ("whoami <!channel>", ShowHelp("`whoami` takes no arguments (got “&lt;!channel&gt;”).")),
    ],
)
def test_whoami_takes_no_arguments(text: str, command: object) -> None:
    assert parse_command(text) == command


def test_the_help_names_whoami() -> None:
    assert "*`/ddm-restore whoami`*" in USAGE


def test_a_requester_who_approves_no_stage() -> None:
    standing = ENVS.standing(ALICE, "CPROD")
    assert standing == Standing(ALICE, PROD, None, (), False)
    assert whoami_text(standing) == (
        "*What you may do in this channel*\n"
        "• Environment: *prod (cn-north-4)*\n"
        "• Request a restore here: yes\n"
        "• Approve in: none\n"
        "• Guest: no"
    )


def test_a_group_member_approves_in_the_groups_stage_and_hears_why_they_may_not_request() -> None:
    standing = ENVS.standing(LEAD, "CPROD")
    assert standing.stages == (STAGES[0],)
    assert standing.refusal is not None and standing.refusal.code == "not_requester"
    # The stage's name comes from the configuration file: escaped; the refusal keeps its mentions.
    assert whoami_text(standing).splitlines()[2:4] == [
        "• Request a restore here: no — Only <@UALICE> or <@UDAN> can request restores.",
        "• Approve in: *DBA &lt;lead&gt;*",
    ]


def test_an_approver_of_every_stage_and_the_urgent_path() -> None:
    both = Actor("UBOB", group_ids=frozenset({"SLEADS"}))
    assert whoami_text(ENVS.standing(both, "CPROD")).splitlines()[3] == (
        "• Approve in: *DBA &lt;lead&gt;*, the urgent (break-glass) path"
    )
    assert whoami_text(ENVS.standing(Actor("UDAN"), "CPROD")).splitlines()[3] == "• Approve in: *Service owner*"


def test_a_guest_approves_nowhere_even_when_named_an_approver() -> None:
    guest = Actor("UDAN", is_guest=True)
    standing = ENVS.standing(guest, "CPROD")
    assert (standing.stages, standing.urgent) == ((), False)
    assert whoami_text(standing).splitlines()[2:] == [
        "• Request a restore here: no — Guests can't request restores.",
        "• Approve in: none",
        "• Guest: yes (guests, bots and deactivated accounts can't request or approve restores)",
    ]


def test_a_channel_in_no_environment() -> None:
    standing = ENVS.standing(LEAD, "CNONE")
    assert standing.environment is None
    assert whoami_text(standing).splitlines()[1:4] == [
        "• Environment: none",
        "• Request a restore here: no — This channel is not set up for restores. Restores can be requested in "
        "<#CPROD>.",
        "• Approve in: none (no environment)",
    ]


def test_the_settings_one_environment_has_one_unnamed_stage() -> None:
    single = Environments((Environment("", "cn-north-4", "p1", ApprovalPolicy(approver_user_ids=frozenset({"UBOB"}))),))
    lines = whoami_text(single.standing(Actor("UBOB"), "CANY")).splitlines()
    assert lines[1] == "• Environment: *cn-north-4*"
    assert lines[3] == "• Approve in: the one approval stage"
    only_some = Environments(
        (Environment("", "cn-north-4", "p1", ApprovalPolicy(allowed_channel_ids=frozenset({"COPS"}))),)
    )
    assert whoami_text(only_some.standing(ALICE, "CANY")).splitlines()[2] == (
        "• Request a restore here: no — Restore requests can only be made in <#COPS>."
    )
