"""views.open / push / update for FakeSlack, and what Slack does with a view_submission's ack."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Mapping
from typing import Any

from bot.playground.slack_model import (
    _CANCEL,
    _TRIGGER_MARK,
    SlackError,
    _action_ids_by_block,
    _invalid,
    _text_len,
    _truthy,
)
from bot.playground.slack_state import SlackState


class ViewsMixin(SlackState):
    # views

    def _check_trigger(self, args: dict[str, Any]) -> None:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger_id:
            raise _invalid("missing required field: trigger_id")
        trigger_id = str(trigger_id)
        if self.single_use_triggers:
            if trigger_id in self._used_triggers:
                raise SlackError("exchanged_trigger_id")
            self._used_triggers.add(trigger_id)
        if self.trigger_ttl is not None:
            parts = trigger_id.split(".")
            if len(parts) == 3 and parts[2].startswith(_TRIGGER_MARK) and parts[1].isdigit():
                issued = int(parts[1]) / 1000
                if time.time() - issued > self.trigger_ttl:
                    raise SlackError("expired_trigger_id")

    def _validate_view(self, view: Any) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _invalid("missing required field: view")
        problems: list[str] = []
        vtype = view.get("type")
        if vtype not in ("modal", "home"):
            problems.append("must be one of modal, home [json-pointer:/view/type]")
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            problems.append("missing required field: blocks [json-pointer:/view/blocks]")
            blocks = []
        if len(blocks) > 100:
            problems.append("no more than 100 items allowed [json-pointer:/view/blocks]")
        for i, block in enumerate(blocks):
            if not isinstance(block, dict) or "type" not in block:
                problems.append(f"missing required field: type [json-pointer:/view/blocks/{i}]")
        if vtype == "modal":
            if not isinstance(view.get("title"), dict):
                problems.append("missing required field: title [json-pointer:/view/title]")
            for key in ("title", "submit", "close"):
                if _text_len(view.get(key)) > 24:
                    problems.append(f"must be less than 25 characters [json-pointer:/view/{key}/text]")
            has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
            if has_input and not view.get("submit"):
                problems.append("must provide submit when using input blocks [json-pointer:/view/submit]")
        if len(str(view.get("private_metadata") or "")) > 3000:
            problems.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
        for key in ("callback_id", "external_id"):
            if len(str(view.get(key) or "")) > 255:
                problems.append(f"must be less than 256 characters [json-pointer:/view/{key}]")
        block_ids = [b["block_id"] for b in blocks if isinstance(b, dict) and b.get("block_id")]
        if len(block_ids) != len(set(block_ids)):
            problems.append("block_id must be unique [json-pointer:/view/blocks]")
        if problems:
            raise _invalid(*problems)
        return view

    def _new_hash(self, seq: int) -> str:
        return f"{1_700_000_000 + seq}.{uuid.uuid4().hex[:8]}"

    def _store_view(
        self,
        view_in: dict[str, Any],
        *,
        view_id: str,
        root_view_id: str,
        previous_view_id: str | None,
        state: dict[str, Any],
    ) -> dict[str, Any]:
        seq = next(self._view_seq)
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view_in.get("type", "modal"),
            "blocks": copy.deepcopy(view_in.get("blocks", [])),
            "private_metadata": str(view_in.get("private_metadata") or ""),
            "callback_id": str(view_in.get("callback_id") or ""),
            "state": {"values": state},
            "hash": self._new_hash(seq),
            "title": copy.deepcopy(view_in.get("title")),
            "clear_on_close": _truthy(view_in.get("clear_on_close", False)),
            "notify_on_close": _truthy(view_in.get("notify_on_close", False)),
            "close": copy.deepcopy(view_in.get("close") or (_CANCEL if view_in.get("type") == "modal" else None)),
            "submit": copy.deepcopy(view_in.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": str(view_in.get("external_id") or ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = view
        return view

    def apply_view_response(self, view_id: str, response: Mapping[str, Any]) -> str | None:
        """Do what Slack does with a view_submission's ack: push / update / clear / errors.

        Returns the id of the view now on top (None when the modal closed)."""
        action = response.get("response_action")
        if action == "errors":
            return view_id
        if action == "push":
            view_in = self._validate_view(response.get("view"))
            self._check_external_id_free(view_in)
            new_id = self._new_view_id()
            root = self._view_stack[0] if self._view_stack else new_id
            self._store_view(view_in, view_id=new_id, root_view_id=root, previous_view_id=view_id, state={})
            self._view_stack.append(new_id)
            return new_id
        if action == "update":
            view_in = self._validate_view(response.get("view"))
            current = self.views[view_id]
            self._store_view(
                view_in,
                view_id=view_id,
                root_view_id=current["root_view_id"],
                previous_view_id=current["previous_view_id"],
                state={},
            )
            return view_id
        # "clear", or a plain ack on the top view: the modal (or that view) closes.
        if action == "clear":
            self._view_stack = []
            return None
        if self._view_stack and self._view_stack[-1] == view_id:
            self._view_stack.pop()
        return self._view_stack[-1] if self._view_stack else None

    def _check_external_id_free(self, view_in: dict[str, Any], *, except_view: str | None = None) -> None:
        external_id = view_in.get("external_id")
        if external_id and any(v["external_id"] == external_id and vid != except_view for vid, v in self.views.items()):
            raise SlackError("duplicate_external_id")

    def _new_view_id(self) -> str:
        return f"V{len(self.views) + 1:08d}"

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view_in = self._validate_view(args.get("view"))
        self._check_trigger(args)
        self._check_external_id_free(view_in)
        view_id = self._new_view_id()
        view = self._store_view(view_in, view_id=view_id, root_view_id=view_id, previous_view_id=None, state={})
        self._view_stack = [view_id]
        return {"ok": True, "view": view}

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        view_in = self._validate_view(args.get("view"))
        self._check_trigger(args)
        if len(self._view_stack) >= 3:
            raise SlackError("push_limit_reached")
        self._check_external_id_free(view_in)
        view_id = self._new_view_id()
        previous = self._view_stack[-1] if self._view_stack else None
        root = self._view_stack[0] if self._view_stack else view_id
        view = self._store_view(view_in, view_id=view_id, root_view_id=root, previous_view_id=previous, state={})
        self._view_stack.append(view_id)
        return {"ok": True, "view": view}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """The App Home tab of one user: replaced whole at each publish (Slack keeps one per user and app)."""
        view_in = self._validate_view(args.get("view"))
        if view_in.get("type") != "home":
            raise _invalid("must be home [json-pointer:/view/type]")
        user_id = str(args.get("user_id") or "")
        if user_id not in self.users:
            raise SlackError("user_not_found")
        expected_hash = args.get("hash")
        current = self.views.get(self.home_views.get(user_id, ""))
        if expected_hash and current is not None and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current["id"] if current is not None else self._new_view_id()
        view = self._store_view(view_in, view_id=view_id, root_view_id=view_id, previous_view_id=None, state={})
        self.home_views[user_id] = view_id
        return {"ok": True, "view": view}

    def home_of(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for `user_id`."""
        return self.views.get(self.home_views.get(user_id, ""))

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_in = self._validate_view(args.get("view"))
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if view_id:
            current = self.views.get(str(view_id))
        elif external_id:
            current = next((v for v in self.views.values() if v["external_id"] == external_id), None)
        else:
            raise _invalid("either view_id or external_id is required")
        if current is None:
            raise SlackError("not_found")
        expected_hash = args.get("hash")
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        self._check_external_id_free(view_in, except_view=current["id"])
        # Slack keeps what the user entered while block_id and action_id stay the same.
        still_there = _action_ids_by_block(view_in.get("blocks", []))
        state: dict[str, Any] = {}
        for block_id, actions in current.get("state", {}).get("values", {}).items():
            kept = {a: v for a, v in actions.items() if a in still_there.get(block_id, set())}
            if kept:
                state[block_id] = kept
        if not view_in.get("external_id"):
            view_in = {**view_in, "external_id": current["external_id"]}
        view = self._store_view(
            view_in,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
            state=state,
        )
        return {"ok": True, "view": view}
