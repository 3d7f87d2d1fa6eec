"""The root logger: readable text (the default) or JSON lines, each line with the request id it is about, and
no secret at any level (the redaction filter sits on every root handler, ahead of any formatting)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import SecretStr

from bot.observability.context import current_request_id
from bot.observability.redact import _STANDARD, REDACTOR, RedactingFilter

if TYPE_CHECKING:
    from bot.config import Settings

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Request ids (bot.restore.ids): a line that names one is about it, wherever it was written from.
_REQUEST_ID_RE = re.compile(r"\bR-[0-9A-HJKMNP-TV-Z]{6}\b")


class RequestIdFilter(logging.Filter):
    """`record.request_id`: the request the current work is about, else the one the message names."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None):
            return True
        request_id = current_request_id()
        if request_id is None:
            found = _REQUEST_ID_RE.search(record.getMessage())
            request_id = found.group(0) if found else None
        record.request_id = request_id
        return True


class Quieter(logging.Filter):
    """Drops bolt's warning that the token is unused (we hand it a client that carries it) and turns
    slack_sdk's per-attempt connection tracebacks into one line each."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("slack_bolt") and "will be unused" in record.getMessage():
            return False
        if record.name.startswith(("slack_bolt", "slack_sdk")) and record.exc_info:
            message = record.getMessage()
            if message.startswith("Failed to connect"):
                record.msg, record.args, record.exc_info, record.exc_text = message, None, None, None
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [R-…]` (the request id when the message does not already name it)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id and request_id not in record.getMessage():
            first, newline, rest = line.partition("\n")
            line = f"{first} [{request_id}]{newline}{rest}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, every `extra=` field, and the
    traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def handler_for(fmt: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """A handler as the bot's: request ids, the quieter, then redaction (last: it sees the final text)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(Quieter())
    handler.addFilter(RedactingFilter(REDACTOR))
    return handler


def configure_logging(level: str, fmt: LogFormat = "text", stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one of ours; returns it."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = handler_for(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level)
    # Records logged to the root logger itself pass here too (filters on a logger do not see its children's
    # records: the handler's filter is the one that covers everything).
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter(REDACTOR))
    quiet = max(logging.WARNING, root.level)
    # One line per HTTP call (or per retried call) is noise at INFO; our own modules log the calls that matter.
    # Alembic announces its plugins and dialect on every start-up.
    for name in ("httpx", "slack_sdk.web", "alembic"):
        logging.getLogger(name).setLevel(quiet)
    return handler


def hide_secrets_of(settings: Settings) -> None:
    """Every secret the settings hold (the database password included) is masked in every log line."""
    from sqlalchemy.engine.url import make_url

    from bot.config import SECRET_SETTINGS

    values: list[str | SecretStr | None] = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            values.append(value)
    try:
        password = make_url(settings.database_url).password
    except Exception:  # not a URL: the start-up checks say so
        password = None
    if password:
        values.append(str(password))
    REDACTOR.add(*values)
