"""Scoping an SLO's SLI to one version's series: the canary's, or the baseline's.

Every vector selector of the SLI's queries gets one more equality matcher `<label>="<value>"`,
added to the parsed PromQL syntax tree and printed back with `format_expr`: the value is a
string literal of the tree (quoted and escaped by the printer), never text spliced into a query,
so `x"} or vector(1)` stays a label value. The label name comes from slogate's config only.

Counts over a window (`counts_expression`) turn `rate` into `increase`: Prometheus computes
`increase(v[w])` as `rate(v[w]) * w`, so the scoped total of a rate-based SLI is its number of
events in the window, and an SLI already written with `increase` is left as it is.

The walk is generic over the tree's node classes (frozen dataclasses): it rebuilds any node
whose fields hold a changed node, so nodes added to the parser later are scoped too. Pure.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slogate.conventions import render_window
from slogate.core.durations import format_duration
from slogate.core.model import EventsSLI
from slogate.sloth.promql import Call, Expr, LabelMatcher, VectorSelector, format_expr, parse


def _rebuild(node: Any, change: Any) -> Any:
    """`node` with `change` applied to every node below it (then to itself)."""
    if isinstance(node, tuple):
        return tuple(_rebuild(item, change) for item in node)
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    updates = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        rebuilt = _rebuild(value, change)
        if rebuilt is not value:
            updates[field.name] = rebuilt
    return change(dataclasses.replace(node, **updates) if updates else node)


def scope_expr(expr: Expr, label: str, value: str) -> Expr:
    """`expr` with `label="value"` added to every vector selector."""
    matcher = LabelMatcher(label, "=", value)

    def add_matcher(node: Any) -> Any:
        if isinstance(node, VectorSelector):
            return dataclasses.replace(node, matchers=(*node.matchers, matcher))
        return node

    result: Expr = _rebuild(expr, add_matcher)
    return result


def _rate_to_increase(node: Any) -> Any:
    if isinstance(node, Call) and node.func == "rate":
        return dataclasses.replace(node, func="increase")
    return node


def scoped_query(template: str, window: float, label: str, value: str) -> str:
    """A Sloth query template rendered for `window` seconds and scoped to `label="value"`."""
    expr = parse(render_window(template, format_duration(window)))
    return format_expr(scope_expr(expr, label, value))


def counts_expression(template: str, window: float, label: str, value: str) -> str:
    """The scoped query's count of events over `window` (rate → increase)."""
    expr = parse(render_window(template, format_duration(window)))
    counted: Expr = _rebuild(scope_expr(expr, label, value), _rate_to_increase)
    return format_expr(counted)


@dataclasses.dataclass(frozen=True, slots=True)
class ScopedCounts:
    """An events SLI's error and total counts over a window, for one version's series."""

    errors: str
    total: str


def scoped_counts(sli: EventsSLI, window: float, label: str, value: str) -> ScopedCounts:
    return ScopedCounts(
        errors=counts_expression(sli.error_query, window, label, value),
        total=counts_expression(sli.total_query, window, label, value),
    )
