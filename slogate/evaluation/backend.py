"""What the evaluator needs of a metric backend: instant queries at a pinned time, as samples.

The Prometheus HTTP API client (`prometheus`) is one implementation; tests pass others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple, Protocol


class Sample(NamedTuple):
    """One series of an instant query's answer (a tuple: a 1,000-series answer builds 1,000)."""

    labels: Mapping[str, str]
    value: float


class RangeSeries(NamedTuple):
    """One series of a range query's answer: its values, one per step (times dropped)."""

    labels: Mapping[str, str]
    values: tuple[float, ...]


NO_LABELS: Mapping[str, str] = MappingProxyType({})


class QueryBackend(Protocol):
    """What the evaluator needs of a metric backend."""

    async def query(self, expr: str, at: float) -> list[Sample]: ...


class RangeBackend(QueryBackend, Protocol):
    """A backend that also answers range queries (the canary judge's raw-SLI samples)."""

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[RangeSeries]: ...


def single_value(samples: list[Sample]) -> float | None:
    """One SLI value from a query's samples: the worst finite one; none finite is no data."""
    finite = [s.value for s in samples if math.isfinite(s.value)]
    return max(finite) if finite else None
