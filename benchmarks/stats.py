"""Medians and spreads: the machines are shared and noisy, so never quote a single run."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class Sample:
    """Repeated measurements of one figure."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.values), max(self.values)) if self.values else (float("nan"), float("nan"))

    def fmt(self) -> str:
        lo, hi = self.spread
        if len(self.values) <= 1:
            return f"{_num(self.median)} {self.unit}"
        return f"{_num(self.median)} {self.unit} ({_num(lo)}–{_num(hi)}, n={len(self.values)})"


def _num(x: float) -> str:
    if x != x:  # nan
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))  # the smallest value with at least p% of them at or below it
    return ordered[max(0, min(len(ordered), rank) - 1)]
