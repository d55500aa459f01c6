"""set_flow_limits and _declare_flow_limits: merging, clearing, checks, code versus runtime."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, scalar


@pytest.fixture
def flow(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])])
    return conn


def _set(conn, limits):
    return scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))


def _declare(conn, limits):
    return scalar(conn, "SELECT pgflow._declare_flow_limits('f', %s)", (Jsonb(limits),))


def test_limits_merge_and_null_removes_one(flow):
    assert _set(flow, {"max_running": 5}) == {"max_running": 5}
    assert _set(flow, {"steps": {"a": {"max_running": 1}}}) == {"max_running": 5, "steps": {"a": {"max_running": 1}}}
    assert _set(flow, {"max_running": None}) == {"steps": {"a": {"max_running": 1}}}
    assert _set(flow, {"steps": {"a": None}}) == {}
    assert scalar(flow, "SELECT count(*) FROM pgflow.flow_controls") == 0


@pytest.mark.parametrize(("limits", "words"), [
    ({"max_running": 0}, "max_running of flow 'f' must be a whole number of at least 1, got 0"),
    ({"max_running": -2}, "max_running of flow 'f' must be a whole number of at least 1, got -2"),
    ({"max_running": 1.5}, "got 1.5"),
    ({"max_running": "3"}, "got \"3\""),
    ({"steps": {"a": {"max_running": 0}}}, "max_running of step 'a' of flow 'f'"),
    ({"steps": {"zzz": {"max_running": 1}}}, "flow 'f' has no step 'zzz'"),
    ({"steps": {"a": 3}}, "the limits of step 'a' of flow 'f' must be a JSON object"),
    ({"max_runing": 3}, "unknown limit 'max_runing' for flow 'f'"),
])
def test_bad_limits_are_pf003_naming_the_option_and_the_flow(flow, limits, words):
    with pytest.raises(psycopg.Error) as raised:
        _set(flow, limits)
    assert raised.value.sqlstate == "PF003"
    assert words in str(raised.value)


def test_declared_limits_apply_and_a_runtime_change_outlives_an_unchanged_redeploy(flow):
    assert _declare(flow, {"max_running": 3}) == {"max_running": 3}
    assert _set(flow, {"max_running": 10}) == {"max_running": 10}
    assert _declare(flow, {"max_running": 3}) == {"max_running": 10}  # same code: the runtime change stays
    assert _declare(flow, {"max_running": 4}) == {"max_running": 4}  # changed code: it wins


def test_a_runtime_limit_survives_code_that_declares_none(flow):
    _set(flow, {"max_running": 7})
    assert _declare(flow, {}) == {"max_running": 7}


def test_declaring_nothing_for_an_uncontrolled_flow_writes_nothing(flow):
    assert _declare(flow, {}) == {}
    assert scalar(flow, "SELECT count(*) FROM pgflow.flow_controls") == 0


def test_code_that_drops_its_limits_drops_them(flow):
    _declare(flow, {"max_running": 3})
    assert _declare(flow, {}) == {}
    assert scalar(flow, "SELECT count(*) FROM pgflow.flow_controls") == 0
