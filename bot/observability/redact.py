"""Secrets out of the logs, at every level: the values the bot knows, and the shapes of those it can't know.

Known values: the settings' secrets (tokens, signing secret, IAM password, SK, security token, the database
password) and the IAM tokens the bot sends. Shapes: Slack tokens, IAM tokens (`MII…`), AK/SK signatures,
Slack request signatures, credential headers (`X-Subject-Token`, `X-Auth-Token`, `Authorization`, …) however a
library prints them, credential fields in JSON, dicts and forms, and the password in a URL.

`RedactingFilter` rewrites a record in place (message, arguments, traceback, extra fields) before any handler
formats it; it sits on every handler of the root logger (bot.observability.logs).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Iterable

from pydantic import SecretStr

MASK = "[REDACTED]"
MIN_KNOWN_LENGTH = 3  # shorter "secrets" would blank out ordinary words
MAX_REMEMBERED = 64  # IAM tokens seen at run time (one a day per credential): the oldest are forgotten

_HEADERS = (
    r"x-subject-token|x-auth-token|x-security-token|authorization|proxy-authorization|x-slack-signature|"
    r"cookie|set-cookie"
)
_FIELDS = (
    r"password|passwd|secret|signing_secret|client_secret|token|access_token|bot_token|app_token|"
    r"security_token|sk|ticket"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # httpcore/h11 header tuples: (b'X-Subject-Token', b'MII...')
    (re.compile(rf"(?i)(b?['\"](?:{_HEADERS})['\"]\s*,\s*b?['\"])([^'\"]*)(['\"])"), rf"\g<1>{MASK}\g<3>"),
    # dict and JSON reprs: 'Authorization': 'Bearer ...', "password": "..."
    (
        re.compile(rf"(?i)(['\"](?:{_HEADERS}|{_FIELDS})['\"]\s*:\s*b?['\"])([^'\"]*)(['\"])"),
        rf"\g<1>{MASK}\g<3>",
    ),
    # header lines: Authorization: Bearer xoxb-...
    (re.compile(rf"(?i)\b((?:{_HEADERS})\s*:\s*)([^\r\n'\"]+)"), rf"\g<1>{MASK}"),
    # forms and query strings: token=...&ticket=...
    (re.compile(rf"(?i)(?<![\w-])((?:{_FIELDS})=)([^&\s'\",;)]+)"), rf"\g<1>{MASK}"),
    # URLs with a password: postgresql://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s'\"]+:)([^@\s'\"]+)(@)"), rf"\g<1>{MASK}\g<3>"),
    # AK/SK signatures and Slack request signatures
    (re.compile(r"(?i)\b(Signature=)[0-9a-f]{16,}"), rf"\g<1>{MASK}"),
    (re.compile(r"\bv0=[0-9a-f]{64}\b"), f"v0={MASK}"),
    # Slack tokens (the kind stays readable) and IAM tokens
    (re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+"), rf"\g<1>-{MASK}"),
    (re.compile(r"\bMII[A-Za-z0-9+/=_-]{16,}"), MASK),
)


class Redactor:
    """What to take out of a text: known values first (longest first), then the shapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: set[str] = set()
        self._seen: deque[str] = deque(maxlen=MAX_REMEMBERED)
        self._known: re.Pattern[str] | None = None

    def add(self, *values: str | SecretStr | None) -> None:
        """Values that must never be written (settings' secrets)."""
        with self._lock:
            for value in _plain(values):
                self._fixed.add(value)
            self._known = None

    def remember(self, value: str | None) -> None:
        """A secret met at run time (an IAM token); only the most recent ones are kept."""
        if not value or len(value) < MIN_KNOWN_LENGTH or value in self._seen:
            return
        with self._lock:
            self._seen.append(value)
            self._known = None

    def clear(self) -> None:
        with self._lock:
            self._fixed.clear()
            self._seen.clear()
            self._known = None

    def __call__(self, text: str) -> str:
        known = self._pattern()
        if known is not None:
            text = known.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def _pattern(self) -> re.Pattern[str] | None:
        known = self._known
        if known is None:
            with self._lock:
                values = sorted(self._fixed | set(self._seen), key=len, reverse=True)
                if not values:
                    return None
                known = self._known = re.compile("|".join(re.escape(v) for v in values))
        return known


def _plain(values: Iterable[str | SecretStr | None]) -> Iterable[str]:
    for value in values:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if plain and len(plain) >= MIN_KNOWN_LENGTH:
            yield plain


# One per process, as logging is: every Runtime and CLI command adds its settings' secrets here.
REDACTOR = Redactor()

# The attributes every LogRecord has; anything else on a record came through `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no handler can write a secret: the message (with its arguments merged),
    the traceback, the stack and every string given through `extra=`."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: show it rather than lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True
