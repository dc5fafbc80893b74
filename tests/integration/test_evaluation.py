"""Burn rates and budgets computed by slogate from a real Prometheus, against the exact values
of the generated history (within 2%)."""

from __future__ import annotations

import pytest

from slogate.durations import format_duration
from slogate.snapshot import SLOStatus

from .conftest import History
from .helpers import TRAFFIC, expected_ratio, running_slogate

SERVICES_WITH_TRAFFIC = ["checkout", "payments", "search", "catalog", "recommendations"]


def check_against_model(status: SLOStatus, anchor: float) -> None:
    assert status.evaluated_at is not None
    slo = status.slo
    for window in slo.windows.windows:
        want = expected_ratio(slo.service, anchor, status.evaluated_at, window)
        got = status.error_ratios[window]
        assert want is not None and got is not None
        assert got == pytest.approx(want, rel=0.02), f"{slo.service} {format_duration(window)}"
        burn = status.burn_rates[window]
        assert burn == pytest.approx(want / slo.error_budget, rel=0.02)
    period_ratio = expected_ratio(slo.service, anchor, status.evaluated_at, slo.period)
    assert period_ratio is not None
    assert status.error_budget_remaining == pytest.approx(
        1 - period_ratio / slo.error_budget, rel=0.02, abs=0.005
    )


@pytest.mark.parametrize("service", SERVICES_WITH_TRAFFIC)
async def test_every_window_matches_the_generated_history(history: History, service: str) -> None:
    async with running_slogate(history.url) as slogate:
        [status] = slogate.engine.snapshot.of_service(service)
        check_against_model(status, history.anchor)


async def test_scenario_figures_by_hand(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        snap = slogate.engine.snapshot
        checkout = snap.find("checkout", "requests-availability")
        payments = snap.find("payments", "requests-availability")
        search = snap.find("search", "requests-availability")
        catalog = snap.find("catalog", "requests-availability-0")
        recommendations = snap.find("recommendations", "requests-availability")
        assert checkout and payments and search and catalog and recommendations
        # Healthy: 0.02% errors vs a 0.1% budget → burn 0.2 everywhere, 80% of budget left.
        assert checkout.burn_rates[300] == pytest.approx(0.2, rel=0.02)
        assert checkout.error_budget_remaining == pytest.approx(0.8, rel=0.02)
        assert not checkout.page and not checkout.ticket
        # Fast burn: 2% errors for the last 90+ minutes → burn 20 over 5m, 30m and 1h: page.
        for window in (300, 1800, 3600):
            assert payments.burn_rates[window] == pytest.approx(20.0, rel=0.02)
        assert payments.page
        # Exhausted: 0.15% all month → burn 1.5, budget −50%; the slow ticket pair fires.
        assert search.error_budget_remaining == pytest.approx(-0.5, rel=0.02)
        assert search.ticket and not search.page
        # Slow burn: 1% for 4 days vs a 0.5% budget → burn 2 over 6h and 3d: ticket only.
        assert catalog.burn_rates[21600] == pytest.approx(2.0, rel=0.02)
        assert catalog.burn_rates[3 * 86400] == pytest.approx(2.0, rel=0.02)
        assert catalog.ticket and not catalog.page
        assert catalog.error_budget_remaining == pytest.approx(
            1 - (4 * 2 + 26 * 0.1) / 30, rel=0.02
        )
        # Budget low: 0.08% all month → 20% left.
        assert recommendations.error_budget_remaining == pytest.approx(0.2, rel=0.02)


async def test_no_traffic_is_no_data_not_nan(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        [status] = slogate.engine.snapshot.of_service("notifications")
        assert TRAFFIC["notifications"].rps == 0
        assert status.evaluated_at is not None and status.error is None
        assert set(status.error_ratios.values()) == {None}
        assert status.error_budget_remaining is None
        assert not status.page and not status.ticket
        response = await slogate.http.get("/v1/slos/notifications/delivery-availability")
        body = response.json()
        assert body["state"] == "no_data"
        assert body["error_budget_remaining"] is None
        assert set(body["burn_rates"].values()) == {None}
        assert "NaN" not in response.text


async def test_one_pinned_timestamp_per_cycle(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        snap = slogate.engine.snapshot
        assert {s.evaluated_at for s in snap.statuses.values()} == {snap.taken_at}
        # auto mode: one recording-rule query per window, then one per SLO (no rules here)
        assert snap.queries == 8 + len(snap.statuses)
        assert snap.from_rules == 0
        assert snap.failed_queries == 0
