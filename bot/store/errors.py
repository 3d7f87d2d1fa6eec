"""What the store raises when the database can't be used, so that callers can tell people instead of failing."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The database could not be reached or failed mid-transaction: nothing of the change was recorded."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


NOTHING_RECORDED = "I can't reach my database right now, so nothing was recorded. Please try again in a minute."
