"""The flow of the end-to-end resume test: a map whose item 3 fails until the bug is "fixed"
(a file appears). Each handler call is logged to a file, so the test sees which tasks ran.
The directory comes from $PGFLOW_TEST_RESUME_DIR (the worker process inherits it)."""

from __future__ import annotations

import os
from pathlib import Path

import pgflow

resumable = pgflow.Flow("resumable", max_attempts=1)


def _log(what: str) -> None:
    folder = Path(os.environ["PGFLOW_TEST_RESUME_DIR"])
    with open(folder / "calls.log", "a") as log:
        log.write(what + "\n")


@resumable.array
def items(input):
    _log("items")
    return list(range(input["n"]))


@resumable.map(array=items)
def square(item):
    _log(f"square {item}")
    if item == 3 and not (Path(os.environ["PGFLOW_TEST_RESUME_DIR"]) / "fixed").exists():
        raise RuntimeError("bug: item 3")
    return item * item


@resumable.step(depends_on=[square])
def total(deps):
    _log("total")
    return sum(deps["square"])
