"""JSON text that PostgreSQL's ``jsonb`` can store, or a clear reason why a value cannot be.

Python's ``json`` accepts more than ``jsonb`` does: a string may hold a NUL character (``\\x00``)
or a lone UTF-16 surrogate (``"\\ud800"``, which is not Unicode text at all), and both are escaped
into JSON text that PostgreSQL then refuses with a raw driver error — or, in a worker's report,
only after the task was claimed. Inputs and outputs go through :func:`jsonb_text` before they
are sent, so the caller can say what is wrong in its own words (``InvalidInput`` for an input,
``NonSerializableOutput`` for a handler's output) and nothing reaches the database half-valid.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

_encode = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode  # one encoder, not one per call

# How deep the encoder goes depends on the Python version (3.10 and 3.11 stop at the recursion
# limit, about 1,000 levels; 3.12's C encoder and 3.13 go further, to depths PostgreSQL may refuse
# with "stack depth limit exceeded"), so values nested deeper than this are refused on every version
MAX_DEPTH = 1000
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")

# every escape sequence of the encoder's output, in order: "\\uXXXX" with its hex, or "\\<char>"
_ESCAPE = re.compile(r"\\(?:u([0-9a-f]{4})|.)")


class NotStorable(ValueError):
    """A value ``jsonb`` cannot hold. ``reason`` completes "the input ..." / "step 'x' returned
    a value that ..."; ``fix`` says what to do about it."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(f"{reason}; {fix}")
        self.reason = reason
        self.fix = fix


def jsonb_text(value: Any) -> str:
    """``value`` as compact JSON text that ``jsonb`` accepts; :class:`NotStorable` otherwise."""
    try:
        text = _encode(value)
    except RecursionError:
        raise _too_deep() from None
    except (TypeError, ValueError) as exc:
        raise NotStorable(f"is not JSON-serialisable ({exc})",
                          "use dicts, lists, strings, numbers, booleans or None, converting other values "
                          "(datetimes with .isoformat(), decimals with float() or str(), UUIDs and sets) first") from None
    if len(text) > 2 * MAX_DEPTH and text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise _too_deep()
    if "\\u0000" in text or "\\ud" in text:  # the encoder writes lowercase hex; both are rare
        _check_escapes(text)
    return text


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings skipped)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def _too_deep() -> NotStorable:
    return NotStorable(f"is nested too deeply to store (more than about {MAX_DEPTH} levels)",
                       "flatten it (store deep structures as a string, or in a table of their own)")


def _check_escapes(text: str) -> None:
    pending_high = False  # the previous escape was a high surrogate, which needs a low one next
    previous_end = -1
    for match in _ESCAPE.finditer(text):
        code = int(match[1], 16) if match[1] else None
        paired = pending_high and match.start() == previous_end
        if pending_high and not (paired and code is not None and 0xDC00 <= code <= 0xDFFF):
            raise _lone_surrogate()
        pending_high = False
        if code == 0:
            raise NotStorable("contains a NUL character (\\x00), which PostgreSQL cannot store",
                              "remove it, or encode binary data (e.g. base64)")
        if code is not None and 0xD800 <= code <= 0xDBFF:
            pending_high = True
        elif code is not None and 0xDC00 <= code <= 0xDFFF and not paired:
            raise _lone_surrogate()
        previous_end = match.end()
    if pending_high:
        raise _lone_surrogate()


def _lone_surrogate() -> NotStorable:
    return NotStorable("contains a lone UTF-16 surrogate (e.g. '\\ud800'), which is not valid Unicode and "
                       "PostgreSQL cannot store",
                       "decode bytes with errors='replace' (or fix the text's source) before passing it")
