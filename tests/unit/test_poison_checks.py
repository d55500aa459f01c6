"""The checks that keep what PostgreSQL cannot take from reaching it (raw driver errors otherwise)."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import psycopg
import pytest

import pgflow
from pgflow.db import translate_error
from pgflow.ops.common import MAX_COUNT, count_of, seconds_of, slug_of
from pgflow.worker.config import WorkerConfig
from pgflow.worker.executor import describe_error


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308, 10**400, timedelta.max, timedelta.min])
def test_seconds_of_refuses_nan_and_what_overflows_an_interval(value):
    with pytest.raises(pgflow.InvalidInput, match="delay"):
        seconds_of(value, "delay")


def test_seconds_of_takes_long_but_finite_delays():
    assert seconds_of(timedelta(days=365 * 100), "delay") == 365 * 100 * 86400
    assert seconds_of(-5, "delay") == -5.0


@pytest.mark.parametrize("value", [0, -1, MAX_COUNT + 1, 99999999999999999999, True, 1.0, "5"])
def test_count_of_is_a_bigint_from_one(value):
    with pytest.raises(pgflow.InvalidInput, match="limit must be a whole number from 1 to 9223372036854775807"):
        count_of(value, "limit")
    assert count_of(MAX_COUNT, "limit") == MAX_COUNT


def test_a_slug_with_a_nul_names_no_flow():
    with pytest.raises(pgflow.FlowNotFound, match="NUL"):
        slug_of("a\x00b")


def test_translate_error_makes_data_errors_invalid_input():
    refused = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    assert isinstance(translate_error(refused), pgflow.InvalidInput)
    assert isinstance(translate_error(psycopg.errors.NumericValueOutOfRange("bigint out of range")),
                      pgflow.InvalidInput)


def test_error_detail_is_traceback_or_line():
    assert WorkerConfig().error_detail == "traceback"
    with pytest.raises(pgflow.ConfigurationError, match="error_detail must be 'traceback'"):
        WorkerConfig(error_detail="full")  # type: ignore[arg-type]


def test_describe_error_with_the_line_only_logs_the_traceback(caplog):
    try:
        raise KeyError("missing")
    except KeyError as exc:
        caught = exc
    with caplog.at_level(logging.WARNING, logger="pgflow.worker"):
        assert describe_error(caught, "line") == "KeyError: 'missing'"
    assert caplog.records[-1].exc_info is not None and caplog.records[-1].exc_info[1] is caught
    full = describe_error(caught)
    assert full.startswith("KeyError: 'missing'\nTraceback (most recent call last):")
