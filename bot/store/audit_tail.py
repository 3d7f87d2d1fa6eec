"""Where the audit chain ends, against the head table and against a head kept outside the database.

A chain verified record by record cannot show records cut off its end, nor one appended by someone who
computed its hash: the head table (revision 0005, moved to each record the bot appends) and a head kept
elsewhere (`audit verify --expect-head`, the bot's hourly `audit head` log line) can.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store import schema
from bot.store.audit_chain import AuditHead


@dataclass(frozen=True)
class ChainBreak:
    seq: int | None  # the record named; None when no record is (the head row itself is gone)
    reason: str


class ChainEnd:
    """What the walk saw of the records the head table and the head kept elsewhere name."""

    def __init__(self, head: AuditHead | None, expect: AuditHead | None) -> None:
        self.head = head
        self.expect = expect if expect is not None and expect.seq else None  # seq 0: the empty chain, always held
        self.head_hash: str | None = None  # of the record the head table names, when the walk met it
        self.before_head = 0  # records before that seq
        self.after_head: int | None = None  # the first record after it
        self.expected_hash: str | None = None
        self.before_expected = 0
        self.after_expected = 0

    def saw(self, seq: int, hash_: str) -> None:
        if self.head is not None:
            head_seq = self.head.seq or 0
            if seq == head_seq:
                self.head_hash = hash_
            elif seq < head_seq:
                self.before_head += 1
            elif self.after_head is None:
                self.after_head = seq
        if self.expect is not None:
            assert self.expect.seq is not None
            if seq == self.expect.seq:
                self.expected_hash = hash_
            elif seq < self.expect.seq:
                self.before_expected += 1
            else:
                self.after_expected += 1

    def expected_break(self, last_seq: int | None) -> tuple[ChainBreak, int] | None:
        """How the chain fails the head kept elsewhere, with the records intact before that, or None."""
        expect = self.expect
        if expect is None:
            return None
        assert expect.seq is not None
        kept = f"the head kept elsewhere (seq {expect.seq}, hash {expect.hash})"
        if self.expected_hash is None:
            if last_seq is None or last_seq < expect.seq:
                ends = f"ends at seq {last_seq}" if last_seq is not None else "is empty"
                reason = f"the chain {ends}, short of {kept}: records up to seq {expect.seq} were deleted"
            else:
                reason = f"no record has this seq, although the chain goes on to seq {last_seq}: {kept} was deleted and the chain rebuilt"
            return ChainBreak(expect.seq, reason), self.before_expected
        if self.expected_hash != expect.hash:
            reason = f"its hash is {self.expected_hash}, not the one of {kept}: the chain was rewritten up to here"
            return ChainBreak(expect.seq, reason), self.before_expected
        return None

    def head_break(self, last_seq: int | None) -> tuple[ChainBreak, int] | None:
        """How the chain's end disagrees with the head table, with the records intact before that, or None."""
        head = self.head
        if head is None:
            missing = f"the audit head row ({schema.audit_head.name}, id 1) is missing: it was deleted"
            return ChainBreak(None, missing), 0
        if head.seq is not None:
            if self.head_hash is None:
                if last_seq is None or last_seq < head.seq:
                    ends = f"ends at seq {last_seq}" if last_seq is not None else "is empty"
                    reason = (
                        f"the audit head names this record (hash {head.hash}), but the chain {ends}: "
                        "the last record(s) were deleted"
                    )
                else:
                    reason = "the audit head names this record, but no record has this seq: it was deleted and the chain rebuilt"
                return ChainBreak(head.seq, reason), self.before_head
            if self.head_hash != head.hash:
                reason = f"its hash is not the one the audit head holds ({head.hash}): it was rewritten"
                return ChainBreak(head.seq, reason), self.before_head
        if self.after_head is not None:
            where = f"seq {head.seq}" if head.seq is not None else "an empty chain"
            reason = (
                f"it comes after the audit head ({where}), which every append moves: "
                "it was written into the table behind the bot's back"
            )
            return ChainBreak(self.after_head, reason), self.before_head + (1 if head.seq is not None else 0)
        return None
