"""Stored strings made safe to print on a terminal.

Error messages, slugs and other strings that pgflow prints come from handlers and callers: an
exception message may hold terminal control sequences (``ESC]0;...`` sets the window title,
``ESC[2J`` clears the screen) or a ``\\r``/``\\n`` that forges a line of the log. Every printer
(the CLI's tables and details, the worker's log lines) passes such strings through
:func:`printable`, which writes each control character as an escape (``\\x1b``, ``\\r``,
``\\u202e``) instead of sending it to the terminal.
"""

from __future__ import annotations

import logging
import re

# C0 controls but tab and newline, DEL, C1 controls, the Unicode line and paragraph separators
# and the bidirectional overrides and isolates (which reorder what a reader sees)
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_KEEP_LINES = re.compile(f"[{_CONTROLS}]")
_ONE_LINE = re.compile(f"[{_CONTROLS}\n]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\x0b": "\\v", "\x0c": "\\f", "\x08": "\\b", "\x07": "\\a", "\x1b": "\\x1b"}


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object, *, newlines: bool = False) -> str:
    """``str(value)`` with every control character escaped, tabs kept; newlines kept only when
    ``newlines`` is true (a traceback, a multi-line detail), else escaped as ``\\n`` (one line)."""
    text = value if isinstance(value, str) else str(value)
    pattern = _KEEP_LINES if newlines else _ONE_LINE
    return pattern.sub(_escape, text) if pattern.search(text) else text


def indented(text: str, prefix: str = "  ") -> str:
    """:func:`printable` keeping newlines, every line after ``prefix``: a block (a traceback) whose
    lines cannot pass for records of a log, even where an exception's message holds a newline."""
    return "\n".join(prefix + line for line in printable(text, newlines=True).split("\n"))


class PrintableFormatter(logging.Formatter):
    """A log formatter whose record is one line of printable text (its message's newlines escaped),
    followed by an exception's traceback, indented (newlines kept, other controls escaped)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return printable(super().formatMessage(record))

    def formatException(self, ei: object) -> str:  # noqa: N802 - logging's name
        return indented(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return indented(super().formatStack(stack_info))
