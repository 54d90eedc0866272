"""LOG_FORMAT=json: one JSON object per line, secrets still redacted."""

from __future__ import annotations

import json
import logging

from chatsite.logfilters import JsonLines, RedactSecretPaths


def test_a_record_is_one_json_line_with_secret_paths_redacted() -> None:
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Gone: %s",
        ("/unsubscribe/abc.def.ghi/",),
        None,
    )
    assert RedactSecretPaths().filter(record)
    line = JsonLines().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "django.request"
    assert entry["message"] == "Gone: /unsubscribe/[redacted]/"
    assert "abc.def" not in line


def test_an_exception_travels_inside_the_json() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    entry = json.loads(JsonLines().format(record))
    assert "ValueError: boom" in entry["exception"]
