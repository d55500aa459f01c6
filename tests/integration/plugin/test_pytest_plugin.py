"""The pytest plugin, proven by real inner pytest runs (pytester, in a subprocess): a user's test
file with nothing but flows and the plugin's fixtures."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import asyncio

import pgflow

order_slow = pgflow.Flow("plugin_slow")
running, peak = set(), []

@order_slow.map
async def wait(item):
    running.add(item)
    peak.append(len(running))
    await asyncio.sleep(0.02)
    running.discard(item)


order = pgflow.Flow("plugin_order")

@order.array
def items(input):
    return input["items"]

@order.map(array=items)
def price(item):
    return item * 10

@order.step(depends_on=[price])
def total(deps):
    return sum(deps["price"])


def test_inline(pgflow_run_inline):
    assert pgflow_run_inline(order, {"items": [1, 2]}).output == {"total": 30}


def test_on_a_real_database(pgflow_client, pgflow_drain):
    pgflow_client.compile(order)
    run_id = pgflow_client.start_flow(order, {"items": [1, 2, 3]})
    result = pgflow_drain(order)
    run = pgflow_client.get_run(run_id)
    assert run.status == "completed" and run.output == {"total": 60}
    assert result.completed == 5


def test_each_test_gets_its_own_database(pgflow_client):
    assert pgflow_client.list_runs() == []


def test_drain_one_task_at_a_time(pgflow_client, pgflow_drain):
    pgflow_client.compile(order_slow)
    pgflow_client.start_flow(order_slow, list(range(6)))
    pgflow_drain(order_slow, max_concurrency=1)
    assert len(peak) == 6 and max(peak) == 1
'''


def test_a_users_tests_run_on_the_server_named_by_the_variable(
        pytester: pytest.Pytester, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGFLOW_TEST_DATABASE_URL", pg_admin_url)
    pytester.makepyfile(test_orders=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=4)


def test_a_users_tests_get_an_embedded_server_by_default(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGFLOW_TEST_DATABASE_URL", raising=False)
    pytester.makepyfile(test_orders=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-W", "ignore::UserWarning")
    result.assert_outcomes(passed=4)


def test_the_plugin_can_be_named_explicitly_when_autoloading_is_off(
        pytester: pytest.Pytester, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGFLOW_TEST_DATABASE_URL", pg_admin_url)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_orders=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "pgflow.pytest_plugin")
    result.assert_outcomes(passed=4)
