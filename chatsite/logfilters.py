"""Keep link secrets out of the logs; log lines as JSON when asked.

Some URLs carry a credential in their path: one-click unsubscribe tokens,
invitation tokens and password-reset tokens. Django logs the path of every
4xx and 5xx answer ("Gone: /unsubscribe/<token>/"), and exception texts can
quote it, so the handler redacts those segments from every record.
"""

from __future__ import annotations

import json
import logging
import re

SECRET_PATH = re.compile(
    r"(/unsubscribe/|/accounts/invitation/|/accounts/reset/[^/\s]+/)[^/\s?#\"'<>]+"
)
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return SECRET_PATH.sub(REDACTED, text)


class RedactSecretPaths(logging.Filter):
    """Rewrite a record whose message or exception names a secret path."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line, for a log shipper (LOG_FORMAT=json).

    The same fields as the plain format; our log calls never carry a message
    body, and the redaction filter has already run on the record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)
