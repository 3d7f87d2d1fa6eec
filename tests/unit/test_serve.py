"""What the HTTP endpoint refuses before bolt sees it: bodies Slack never sends, even when signed."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from slack_bolt.request.internals import parse_body

from bot.serving.serve import parsed

FORM = "application/x-www-form-urlencoded"
USER = {"id": "UALICE"}
VIEW = {"id": "V1", "type": "modal", "callback_id": "ddm_restore_source", "state": {"values": {}}}


def interaction(payload: object) -> str:
    return "payload=" + quote(json.dumps(payload))


@pytest.mark.parametrize(
    "body",
    [
        "payload=%7Bnot-json",
        interaction([1]),
        interaction({"user": USER}),
        interaction({"type": "block_actions", "actions": [{"action_id": "approve_request"}]}),
        interaction({"type": "block_actions", "user": USER, "actions": [{"value": "R-1"}]}),
        interaction({"type": "view_submission", "user": USER, "view": {"callback_id": "x"}}),
        interaction({"type": "view_submission", "user": USER, "view": VIEW | {"state": "x"}}),
        interaction({"type": "block_suggestion", "user": USER, "value": "or"}),
        "command=%2Fddm-restore&text=help",
        "[]",
        "{}",
    ],
)
def test_refused(body: str) -> None:
    with pytest.raises(ValueError):
        parsed(body, "application/json" if body[:1] in "[{" else FORM)


@pytest.mark.parametrize(
    "body",
    [
        interaction({"type": "block_actions", "user": USER, "actions": [{"action_id": "approve_request"}]}),
        interaction({"type": "view_submission", "user": USER, "view": VIEW}),
        interaction({"type": "view_closed", "user": USER, "view": VIEW}),
        interaction({"type": "block_suggestion", "user": USER, "action_id": "source_instance", "value": "or"}),
        "command=%2Fddm-restore&text=&user_id=UALICE&channel_id=COPS",
        "ssl_check=1",
        "command=%2Fddm-restore&text=payload&user_id=UALICE&channel_id=COPS",  # bolt reads "payload" as {}
        "command=%2Fddm-restore&text=a&text=b&user_id=UALICE&channel_id=COPS",
    ],
)
def test_passed_on_as_bolt_reads_it(body: str) -> None:
    """Passed on parsed once, exactly as bolt would have parsed it (bolt is given the parsed body)."""
    assert parsed(body, FORM) == parse_body(body, FORM)
    event = '{"type": "url_verification", "challenge": "c"}'
    assert parsed(event, "application/json") == parse_body(event, "application/json")
