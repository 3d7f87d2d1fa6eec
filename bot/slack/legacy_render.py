"""Notices as today's thread sentences (bot.restore.texts), until the blocks package renders them itself."""

from __future__ import annotations

from collections.abc import Mapping

from bot.restore import texts
from bot.restore.notices import Notice, ParamValue
from bot.restore.request import RestoreRequest


def render_notice(request: RestoreRequest, notice: Notice, params: Mapping[str, ParamValue]) -> str:
    match notice:
        case Notice.APPROVAL:
            return f"{texts.mention(str(params.get('user_id')))} approved ({params.get('count')}/{params.get('required')})."
        case Notice.SUBMITTING:
            return texts.submitting(request)
        case Notice.SUBMITTED:
            region = params.get("region")
            return texts.submitted(request, str(region) if region else None)
        case Notice.OUTCOME_UNKNOWN:
            return texts.outcome_unknown(request)
        case Notice.RECONCILED:
            return texts.reconciled(request)
        case Notice.FOLLOW_TROUBLE:
            return texts.follow_trouble(request, str(params.get("problem") or "no answer"))
        case Notice.FINAL:
            return texts.final_text(request)
        case Notice.CARD_NOT_POSTED:
            return f"Your restore request was not created: {params.get('reason') or 'the card could not be posted.'}"
        case Notice.CARD:
            return ""
    raise AssertionError(notice)
