"""max_running on flows, jobs and steps: checked at definition, declared outside the shape."""

from __future__ import annotations

import pytest

import pgflow
from pgflow.errors import FlowDefinitionError


@pytest.mark.parametrize("value", [0, -3, 1.5, "2", True])
def test_a_flow_max_running_below_one_or_not_whole_is_refused_naming_flow_and_option(value: object) -> None:
    with pytest.raises(FlowDefinitionError, match=r"flow 'imports': max_running must be"):
        pgflow.Flow("imports", max_running=value)  # type: ignore[arg-type]


def test_a_step_max_running_of_zero_is_refused_naming_the_step() -> None:
    flow = pgflow.Flow("imports")
    with pytest.raises(FlowDefinitionError, match=r"step 'fetch' of flow 'imports': max_running must be >= 1, got 0"):
        @flow.step(max_running=0)
        def fetch(input: object) -> None: ...


def _imports(**limits: int) -> pgflow.Flow:
    flow = pgflow.Flow("imports", **({"max_running": limits["flow"]} if "flow" in limits else {}))

    @flow.step(**({"max_running": limits["fetch"]} if "fetch" in limits else {}))
    def fetch(input: object) -> None: ...

    @flow.step(depends_on=[fetch])
    def store(deps: object) -> None: ...

    return flow


def test_limits_are_declared_apart_from_the_shape() -> None:
    limited = _imports(flow=20, fetch=2)

    assert limited.declared_limits() == {"max_running": 20, "steps": {"fetch": {"max_running": 2}}}
    assert limited.shape_json() == _imports().shape_json()  # no recompile when limits change


def test_a_job_takes_max_running_for_its_one_step() -> None:
    job = pgflow.Job("send_email", max_running=2)

    @job.perform
    def send(input: object) -> None: ...

    assert job.declared_limits() == {"max_running": 2}


def test_no_limits_declare_nothing() -> None:
    flow = pgflow.Flow("plain")

    @flow.step
    def only(input: object) -> None: ...

    assert flow.declared_limits() == {}


# ----------------------------------------------------------------------------- per-key concurrency


def test_a_path_key_and_its_limit_are_declared_for_the_database() -> None:
    imports = pgflow.Flow("imports", concurrency_key="customer.id", max_running_per_key=1)
    job = pgflow.Job("thumbnail", concurrency_key="account", max_running_per_key=3)

    assert imports.declared_limits() == {"concurrency_key": "customer.id", "max_running_per_key": 1}
    assert job.declared_limits() == {"concurrency_key": "account", "max_running_per_key": 3}


def test_a_function_key_stays_in_python_and_only_its_limit_is_declared() -> None:
    imports = pgflow.Flow("imports", concurrency_key=lambda input: input["customer"], max_running_per_key=2)

    assert imports.declared_limits() == {"max_running_per_key": 2}
    assert imports.limits.key_function is not None and imports.limits.key_function({"customer": "c7"}) == "c7"


@pytest.mark.parametrize("value", [0, -1, 2.5, "1", True])
def test_a_per_key_limit_below_one_or_not_whole_is_refused_naming_flow_and_option(value: object) -> None:
    with pytest.raises(FlowDefinitionError, match=r"flow 'imports': max_running_per_key must be"):
        pgflow.Flow("imports", concurrency_key="customer_id", max_running_per_key=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "a..b", ".a", 7, ["customer_id"], "x" * 201])
def test_a_key_that_is_neither_a_path_nor_a_function_is_refused(value: object) -> None:
    with pytest.raises(FlowDefinitionError, match=r"job 'imports': concurrency_key must be a path into the run input"):
        pgflow.Job("imports", concurrency_key=value, max_running_per_key=1)  # type: ignore[arg-type]


def test_a_per_key_limit_without_a_key_is_refused() -> None:
    with pytest.raises(FlowDefinitionError, match=r"flow 'imports': max_running_per_key needs a concurrency_key"):
        pgflow.Flow("imports", max_running_per_key=1)


def test_a_function_key_that_raises_or_returns_a_non_string_names_the_option_and_flow() -> None:
    from pgflow.errors import InvalidInput
    from pgflow.ops.flow_control import concurrency_key_of

    def broken(input: dict[str, object]) -> str:
        raise KeyError("customer")

    flow = pgflow.Flow("imports", concurrency_key=broken, max_running_per_key=1)
    with pytest.raises(InvalidInput, match=r"concurrency_key of flow 'imports' raised KeyError: 'customer'"):
        concurrency_key_of(flow, {})
    listy = pgflow.Flow("imports", concurrency_key=lambda input: ["a"], max_running_per_key=1)
    with pytest.raises(InvalidInput, match=r"concurrency_key of flow 'imports' must return a string .* got list"):
        concurrency_key_of(listy, {})
    numbered = pgflow.Flow("imports", concurrency_key=lambda input: input["n"], max_running_per_key=1)
    assert concurrency_key_of(numbered, {"n": 42}) == "42"
    assert concurrency_key_of(numbered.slug, {"n": 42}) is None  # a slug: the database's path, if any


def test_a_per_key_rate_is_declared_beside_the_key() -> None:
    imports = pgflow.Flow("imports", concurrency_key="customer.id", rate_limit_per_key=(2, 60))
    by_function = pgflow.Job("thumbnail", concurrency_key=lambda input: input["account"],
                             max_running_per_key=1, rate_limit_per_key=(5, 1))

    assert imports.declared_limits() == {"concurrency_key": "customer.id",
                                         "rate_limit_per_key": {"count": 2, "per": 60.0}}
    assert by_function.declared_limits() == {"max_running_per_key": 1, "rate_limit_per_key": {"count": 5, "per": 1.0}}


@pytest.mark.parametrize("value", [(0, 1), (1, 0), (1.5, 1), 10, (1, 86401)])
def test_a_bad_per_key_rate_is_refused_naming_flow_and_option(value: object) -> None:
    with pytest.raises(FlowDefinitionError, match=r"flow 'imports': rate_limit_per_key must be \(count, seconds\)"):
        pgflow.Flow("imports", concurrency_key="customer_id", rate_limit_per_key=value)  # type: ignore[arg-type]


def test_a_per_key_rate_without_a_key_is_refused() -> None:
    with pytest.raises(FlowDefinitionError, match=r"flow 'imports': rate_limit_per_key needs a concurrency_key"):
        pgflow.Flow("imports", rate_limit_per_key=(1, 1))
