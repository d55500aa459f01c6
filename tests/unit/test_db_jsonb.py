"""pgflow.db.jsonb: JSON text jsonb accepts, or a reason a caller can show (no database needed)."""

from __future__ import annotations

import pytest

from pgflow.db.jsonb import NotStorable, jsonb_text


@pytest.mark.parametrize("value", [
    {"a": 1, "b": [True, None, 0, ""]},
    "caf\u00e9 \U0001f600",            # non-ASCII and an astral character (a surrogate pair once escaped)
    "a\\u0000b",                        # a backslash followed by u0000 is text, not a NUL
    "\\\\ud800",                        # likewise for a surrogate's spelling
])
def test_storable_values_are_encoded_compactly(value: object) -> None:
    import json

    text = jsonb_text(value)
    assert json.loads(text) == value
    assert ", " not in text and ": " not in text


def test_a_pair_of_surrogate_code_points_is_stored_as_the_character_it_spells() -> None:
    assert jsonb_text("\ud83d\ude00") == '"\\ud83d\\ude00"'  # PostgreSQL reads it as U+1F600


@pytest.mark.parametrize(("value", "reason"), [
    ({"text": "a\x00b"}, "NUL character"),
    (["a\ud800b"], "lone UTF-16 surrogate"),          # high surrogate followed by a plain character
    ("\udc00", "lone UTF-16 surrogate"),              # a low surrogate alone
    ("x\ud800", "lone UTF-16 surrogate"),             # a high surrogate at the end
    ("\ud800\\udc00", "lone UTF-16 surrogate"),       # a high surrogate, then text that only looks like a low one
    ({1, 2}, "not JSON-serialisable"),
    (float("nan"), "not JSON-serialisable"),
])
def test_values_jsonb_cannot_hold_say_why(value: object, reason: str) -> None:
    with pytest.raises(NotStorable, match=reason) as caught:
        jsonb_text(value)
    assert caught.value.fix


def test_absurd_nesting_is_a_clear_error_not_a_recursion_error() -> None:
    deep: object = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(NotStorable, match="nested too deeply"):
        jsonb_text(deep)


def test_the_depth_limit_is_the_same_on_every_python_version() -> None:
    # the C encoder of Python 3.12 and 3.13 goes deeper than the recursion limit, to depths PostgreSQL refuses
    deep: object = {"leaf": "[[[ in a string ]]]"}
    for _ in range(1200):
        deep = [deep]
    with pytest.raises(NotStorable, match=r"nested too deeply to store \(more than about 1000 levels\)"):
        jsonb_text(deep)
    shallow: object = "]]]{{{" * 1000  # brackets in strings are not nesting
    for _ in range(250):
        shallow = {"a": [shallow]}  # 500 levels
    assert jsonb_text(shallow).startswith('{"a":[{"a":')
