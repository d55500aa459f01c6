"""pgflow.textsafe: stored strings escaped for a terminal, one helper for every printer."""

from __future__ import annotations

import logging
import sys

import pytest

from pgflow.textsafe import PrintableFormatter, indented, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, é ✓ 日本", "plain text, é ✓ 日本"),
        ("tab\tkept", "tab\tkept"),
        ("title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\a"),
        ("forged\r\n12:00 INFO ok", "forged\\r\\n12:00 INFO ok"),
        ("nul\x00 del\x7f c1\x9b", "nul\\x00 del\\x7f c1\\x9b"),
        ("bidi\u202e\u2066 sep\u2028", "bidi\\u202e\\u2066 sep\\u2028"),
        ("\x08\x0b\x0c", "\\b\\v\\f"),
    ],
)
def test_printable_escapes_control_characters_and_keeps_the_rest(raw, shown):
    assert printable(raw) == shown


def test_newlines_are_kept_only_when_asked_and_anything_is_turned_into_text():
    assert printable("a\nb\rc", newlines=True) == "a\nb\\rc"
    assert printable("a\nb") == "a\\nb"
    assert printable(42) == "42" and printable(None) == "None"
    assert indented("Traceback\nValueError: x\n12:00 INFO forged") == "  Traceback\n  ValueError: x\n  12:00 INFO forged"


def test_the_log_formatter_keeps_a_record_on_one_line_and_indents_its_traceback():
    formatter = PrintableFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("boom\r\nINFO forged\x1b[2J")
    except ValueError:
        record = logging.LogRecord("pgflow", logging.WARNING, __file__, 1, "task failed: %s", ("a\nb\x1b",),
                                   sys.exc_info())
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first == "WARNING task failed: a\\nb\\x1b"
    assert rest and all(line.startswith("  ") for line in rest)
    assert "  ValueError: boom\\r" in rest and "  INFO forged\\x1b[2J" in rest


def test_the_default_log_handler_writes_a_failed_task_s_error_escaped(caplog):
    from pgflow import telemetry

    with caplog.at_level(logging.WARNING, logger="pgflow.task"):
        telemetry.log_event("task.exception", {}, {"flow_slug": "f", "step_slug": "s", "task_index": 0,
                                                   "run_id": "r", "attempt": 1, "kind": "error",
                                                   "error": "ValueError: x\x1b]0;t\x07\r\nforged\nTraceback..."})
    (record,) = caplog.records
    assert record.getMessage() == "task failed (error): f/s[0] run=r attempt=1: ValueError: x\\x1b]0;t\\a\\r"
