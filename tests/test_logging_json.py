"""``log_json``: one JSON object per line, personal data masked in messages and tracebacks alike."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from assist.logging_setup import JsonFormatter, setup_logging

CARD = "4532 0151 1283 0366"


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What JSON logging writes to stderr; setup_logging replaces the root handlers, so pytest's go back after."""
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("INFO", json_format=True)
    yield stderr
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_each_record_is_one_json_line(json_logs: io.StringIO) -> None:
    log = logging.getLogger("assist.test")
    log.info("call %s started\nsecond line", "c-1", extra={"call_id": "c-1", "leg": "customer"})
    log.debug("below the level")
    try:
        raise RuntimeError("decoder broke")
    except RuntimeError:
        log.exception("decode failed")
    err = json_logs.getvalue()
    first, second = _lines(err)  # exactly two records, each on its own line
    assert first["level"] == "INFO" and first["logger"] == "assist.test"
    assert first["msg"] == "call c-1 started\nsecond line"
    assert first["call_id"] == "c-1" and first["leg"] == "customer"
    assert str(first["ts"]).endswith("Z") and "exc" not in first
    assert second["level"] == "ERROR" and second["msg"] == "decode failed"
    exc = str(second["exc"])
    assert exc.startswith("Traceback") and "RuntimeError: decoder broke" in exc


def test_json_logs_mask_card_numbers_in_tracebacks(json_logs: io.StringIO) -> None:
    log = logging.getLogger("assist.test")
    try:
        raise ValueError(f"bad request body: card {CARD}")
    except ValueError:
        log.exception("request for card %s failed", CARD)
    err = json_logs.getvalue()
    (record,) = _lines(err)
    assert "ValueError" in str(record["exc"])
    assert CARD not in err and CARD.replace(" ", "") not in err


def test_formatter_alone_without_handler_filters() -> None:
    record = logging.LogRecord("x.y", logging.WARNING, __file__, 1, "queue %d full", (3,), None)
    record.code = "queue_full"
    out = JsonFormatter().format(record)
    assert "\n" not in out
    assert json.loads(out) | {"ts": None} == {"ts": None, "level": "WARNING", "logger": "x.y",
                                              "msg": "queue 3 full", "code": "queue_full"}
