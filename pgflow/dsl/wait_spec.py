"""WaitSpec: how a waiting step waits (``StepDefinition.wait``). A leaf of the DSL, so the step
can hold one and the decorators (pgflow/dsl/waits.py) can build them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

WaitKind = Literal["signal", "sleep", "subflow"]


@dataclass(frozen=True)
class WaitSpec:
    """How a waiting step waits (``StepDefinition.wait``)."""

    kind: WaitKind
    timeout: int | None = None  # signal: seconds before the timeout applies (None: waits forever)
    has_default: bool = False  # signal: on timeout, complete with ``default`` instead of failing
    default: Any = None
    early_signals: Literal["keep", "reject"] = "keep"
    at: tuple[str, ...] | None = None  # sleep: path of the wake time in the step's input
    seconds: int = 0  # sleep: fixed duration, or offset after ``at``
    child: Any = None  # subflow: the child Flow
    input: tuple[str, ...] | None = None  # subflow: path of the child's input in the step's input

    def to_row(self, step_slug: str) -> dict[str, Any]:
        """The step's row for ``pgflow._set_wait_steps``."""
        return {
            "step_slug": step_slug, "wait_kind": self.kind, "timeout_seconds": self.timeout,
            "on_timeout": "default" if self.has_default else "fail",
            "timeout_output": self.default if self.has_default else None,
            "early_signals": self.early_signals, "at_path": list(self.at) if self.at is not None else None,
            "sleep_seconds": self.seconds, "child_flow_slug": self.child.slug if self.child is not None else None,
            "input_path": list(self.input) if self.input is not None else None,
        }
