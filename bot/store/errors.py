"""The store's errors, from the bot's one error tree (bot.errors); the old names stay importable from here."""

from __future__ import annotations

from bot.errors import NOTHING_RECORDED, StoreUnavailable, TargetBusy

__all__ = ["NOTHING_RECORDED", "StoreUnavailable", "TargetBusy"]
