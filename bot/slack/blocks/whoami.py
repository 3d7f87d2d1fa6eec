"""`/ddm-restore whoami` (ephemeral): what the person may do in the channel they asked in — its environment,
whether they may request there (and if not, the policy's own sentence), the approval stages they can approve in,
and whether they are a guest."""

from __future__ import annotations

from bot.restore.environment import Standing
from bot.slack.blocks.escaping import escape, guard

# Guests, bots and deactivated accounts are all "guests" to the policy (bot.slack.directory): none may decide.
GUEST_NOTE = "guests, bots and deactivated accounts can't request or approve restores"


def whoami_text(standing: Standing) -> str:
    """Four lines of mrkdwn. The environment's and stages' names come from the configuration file and are escaped;
    the refusal is the policy's finished sentence (its mentions of channels and people kept, any other markup not)."""
    env = standing.environment
    where = f"*{escape(env.label, 100)}*" if env is not None else "none"
    refusal = standing.refusal
    may = "yes" if refusal is None else f"no — {guard(refusal.message)}"
    guest = standing.actor.is_guest
    return "\n".join(
        [
            "*What you may do in this channel*",
            f"• Environment: {where}",
            f"• Request a restore here: {may}",
            f"• Approve in: {_approves(standing)}",
            f"• Guest: {f'yes ({GUEST_NOTE})' if guest else 'no'}",
        ]
    )


def _approves(standing: Standing) -> str:
    if standing.environment is None:
        return "none (no environment)"
    named = [f"*{escape(stage.name, 80)}*" for stage in standing.stages if stage.name]
    # The settings' environment has one stage, with no name.
    parts = ["the one approval stage"] if standing.stages and not named else named
    if standing.urgent:
        parts.append("the urgent (break-glass) path")
    if not parts:
        return "none"
    return ", ".join(parts)
