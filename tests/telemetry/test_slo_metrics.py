"""The per-SLO gauges of /metrics: read back with prometheus_client's own parser, every sample
is the status' figure; the snapshot's part is rendered once per snapshot, the ages per scrape."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from slogate.core.durations import format_duration
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.telemetry import slo_metrics
from slogate.telemetry.slo_metrics import SLOMetrics
from tests.factories import make_slo

NOW = 1_800_000_000.0
BURNING = make_slo("checkout", "availability")
ODD = make_slo('we"ird\\svc', "latency", objective=99.5)
NEVER = make_slo("search", "availability")


def snapshot() -> Snapshot:
    windows = BURNING.windows.windows
    ratios = {w: 0.02 for w in windows} | {windows[0]: None}  # one window without data
    statuses = [
        SLOStatus(BURNING, ratios, NOW - 10, NOW - 10),
        SLOStatus(ODD, {w: 0.0 for w in ODD.windows.windows}, NOW - 40, NOW - 40),
        SLOStatus(NEVER),
    ]
    return Snapshot({s.slo.id: s for s in statuses}, NOW - 5)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parsed(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def expected(snap: Snapshot, now: float) -> Samples:
    """The samples worked out from the statuses, one by one."""
    found: Samples = {}
    for status in snap.statuses.values():
        slo = status.slo
        key = {("service", slo.service), ("slo", slo.name)}
        found["slogate_slo_objective_ratio", frozenset(key)] = slo.objective / 100
        if status.evaluated_at is None:
            continue
        for name, values in (
            ("slogate_slo_error_ratio", status.error_ratios),
            ("slogate_slo_burn_rate", status.burn_rates),
        ):
            for window, value in values.items():
                if value is not None:
                    found[name, frozenset(key | {("window", format_duration(window))})] = value
        if status.error_budget_remaining is not None:
            name = "slogate_slo_error_budget_remaining_ratio"
            found[name, frozenset(key)] = status.error_budget_remaining
        for severity, on in (("page", status.page), ("ticket", status.ticket)):
            found["slogate_slo_alert_firing", frozenset(key | {("severity", severity)})] = on
        found["slogate_slo_data_age_seconds", frozenset(key)] = now - status.evaluated_at
    assert snap.taken_at is not None
    found["slogate_snapshot_age_seconds", frozenset()] = now - snap.taken_at
    return found


async def test_every_sample_is_the_status_figure() -> None:
    snap = snapshot()
    text = await SLOMetrics(lambda: snap, lambda: NOW).text()
    assert parsed(text) == expected(snap, NOW)
    burning = snap.statuses[BURNING.id]
    assert burning.page and burning.error_budget_remaining == pytest.approx(-19.0)
    assert 'service="we\\"ird\\\\svc"' in text  # escaped, and parsed back above


async def test_the_snapshot_is_rendered_once_and_the_ages_at_each_scrape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[Snapshot] = []
    render = slo_metrics.render_snapshot

    def counted(snap: Snapshot) -> tuple[str, list[slo_metrics.AgeLine]]:
        renders.append(snap)
        return render(snap)

    monkeypatch.setattr(slo_metrics, "render_snapshot", counted)
    current, clock = snapshot(), [NOW]
    metrics = SLOMetrics(lambda: current, lambda: clock[0])
    await metrics.text()
    clock[0] = NOW + 30
    later = await metrics.text()
    assert len(renders) == 1
    assert parsed(later) == expected(current, NOW + 30)
    current = snapshot()  # a new cycle's snapshot
    await metrics.text()
    assert len(renders) == 2


def test_values_in_the_text_formats_syntax() -> None:
    assert [slo_metrics.value_text(v) for v in (1.0, 2.5e-05, math.inf, -math.inf)] == [
        "1.0",
        "2.5e-05",
        "+Inf",
        "-Inf",
    ]
    assert slo_metrics.value_text(math.nan) == "NaN"
