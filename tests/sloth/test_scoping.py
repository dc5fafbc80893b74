"""Scoping SLIs to the canary's or the baseline's series, checked by parsing the result."""

from __future__ import annotations

from typing import Any

import pytest

from slogate.core.model import EventsSLI, RawSLI
from slogate.sloth.promql import Call, LabelMatcher, VectorSelector, parse
from slogate.sloth.scoping import counts_expression, scoped_counts, scoped_query
from slogate.sloth.spec import load_text

LABEL = "rollouts_pod_template_hash"


def selectors(node: Any) -> list[VectorSelector]:
    """Every vector selector of a parsed expression (an independent walk over the tree)."""
    if isinstance(node, VectorSelector):
        return [node]
    found: list[VectorSelector] = []
    for name in getattr(node, "__slots__", ()):
        value = getattr(node, name)
        for item in value if isinstance(value, tuple) else (value,):
            found += selectors(item)
    return found


def functions(node: Any) -> list[str]:
    found = [node.func] if isinstance(node, Call) else []
    for name in getattr(node, "__slots__", ()):
        value = getattr(node, name)
        for item in value if isinstance(value, tuple) else (value,):
            found += functions(item)
    return found


def test_every_selector_gets_the_matcher() -> None:
    template = (
        'sum(rate(http_requests_total{code=~"5.."}[{{.window}}])) '
        "/ on() group_left() max(up) + scalar(sum(rate(other[{{.window}}:1m])))"
    )
    text = scoped_query(template, 600, LABEL, "abc123")
    found = selectors(parse(text))
    assert len(found) == 3
    for selector in found:
        assert selector.matchers[-1] == LabelMatcher(LABEL, "=", "abc123")
    assert "[10m]" in text


@pytest.mark.parametrize(
    "hostile",
    ['x"} or vector(1)', 'x"}) or on() vector(1) #', 'a\\"b', "line\nbreak", "\u00e9\u2603", ""],
)
def test_hostile_values_stay_literals(hostile: str) -> None:
    text = scoped_query("sum(rate(requests_total[{{.window}}]))", 300, LABEL, hostile)
    parsed = parse(text)
    [selector] = selectors(parsed)
    assert selector.matchers == (LabelMatcher(LABEL, "=", hostile),)
    assert functions(parsed) == ["rate"]  # no vector() smuggled in


def test_counts_turn_rate_into_increase_and_keep_increase() -> None:
    text = counts_expression(
        "sum(rate(a[{{.window}}])) + sum(increase(b[{{.window}}]))", 600, LABEL, "v"
    )
    parsed = parse(text)
    assert sorted(functions(parsed)) == ["increase", "increase"]
    assert all(s.matchers[-1].value == "v" for s in selectors(parsed))


def test_scoped_counts_of_an_events_sli() -> None:
    sli = EventsSLI('sum(rate(r{code="500"}[{{.window}}]))', "sum(rate(r[{{.window}}]))")
    counts = scoped_counts(sli, 1200, LABEL, "canary")
    assert counts.errors == 'sum(increase(r{code="500",rollouts_pod_template_hash="canary"}[20m]))'
    assert counts.total == 'sum(increase(r{rollouts_pod_template_hash="canary"}[20m]))'


def test_raw_sli_and_slo_plugins() -> None:
    """A raw SLI of an SLO with Sloth SLO plugins: the plugins change the rules Sloth writes,
    not the SLI, so scoping reads the same SLI."""
    spec = """
version: prometheus/v1
service: shop
slo_plugins:
  chain:
    - id: sloth.dev/contrib/denominator_corrected_rules/v1
slos:
  - name: latency
    objective: 99
    sli:
      raw:
        error_ratio_query: |
          1 - sum(rate(lat_bucket{le="0.5"}[{{.window}}])) / sum(rate(lat_count[{{.window}}]))
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"""
    [slo] = load_text(spec, "shop.yml")
    assert isinstance(slo.sli, RawSLI)
    assert slo.group_plugins.chain
    text = scoped_query(slo.sli.error_ratio_query, 60, LABEL, "stable")
    found = selectors(parse(text))
    assert [s.name for s in found] == ["lat_bucket", "lat_count"]
    assert all(s.matchers[-1] == LabelMatcher(LABEL, "=", "stable") for s in found)
