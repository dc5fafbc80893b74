"""Burn rates and budgets computed by slogate from a real Prometheus, against the exact values
of the generated history (within 2%)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from slogate.core.durations import format_duration
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.evaluation.backend import single_value
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.flavors import Flavor, query_params
from slogate.evaluation.prometheus import PrometheusClient
from slogate.evaluation.specfiles import load_specs

from ..conftest import DEMO_SPECS
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
async def test_every_window_matches_the_generated_history(backend: History, service: str) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        [status] = slogate.engine.snapshot.of_service(service)
        check_against_model(status, backend.anchor)


async def test_scenario_figures_by_hand(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
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


async def test_no_traffic_is_no_data_not_nan(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
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


async def test_one_pinned_timestamp_per_cycle(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        snap = slogate.engine.snapshot
        assert {s.evaluated_at for s in snap.statuses.values()} == {snap.taken_at}
        # auto mode: one recording-rule query per window, then one per SLO (no rules here)
        assert snap.queries == 8 + len(snap.statuses) + traffic_queries(backend)
        assert snap.from_rules == 0
        assert snap.failed_queries == 0


def traffic_queries(backend: History) -> int:
    """Queries for the no-traffic SLO's windows beside its own: Prometheus answers 0/0 with NaN
    (no data), VictoriaMetrics leaves NaN series out, so its 8 windows come back empty and each
    takes a traffic query to tell no data from no errors."""
    return 8 if backend.flavor is Flavor.VICTORIAMETRICS else 0


async def test_the_pinned_time_is_the_evaluation_time(backend: History) -> None:
    """`time()` at a pinned `time=` now: what the backend evaluated at, to the millisecond.
    VictoriaMetrics needs its flavor's `nocache=1` for it (else now − 30 s, see `flavors`)."""
    at = round(time.time(), 3)
    async with PrometheusClient(backend.url, params=query_params(backend.flavor)) as client:
        assert single_value(await client.query("time()", at)) == pytest.approx(at, abs=0.001)
    if backend.flavor is Flavor.VICTORIAMETRICS:
        # Without it: 30 s before VictoriaMetrics' clock when the query arrived, whatever `at`.
        async with PrometheusClient(backend.url) as plain:
            sent = time.time()
            shifted = single_value(await plain.query("time()", sent))
            answered = time.time()
        assert shifted is not None and sent - 30.001 <= shifted <= answered - 29.999


SLOS = load_specs(DEMO_SPECS).slos
MANY_TO_MANY = """version: "prometheus/v1"
service: "broken"
slos:
  - name: "many-to-many"
    objective: 99.9
    sli:
      events:
        error_query: SIDE / on() SIDE
        total_query: sum(rate(http_requests_total{service="checkout"}[{{.window}}]))
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
""".replace("SIDE", 'sum by (code) (rate(http_requests_total{service="checkout"}[{{.window}}]))')


async def direct(backend: History, slos: object, at: float, batch_size: int) -> Snapshot:
    async with PrometheusClient(backend.url, params=query_params(backend.flavor)) as client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, concurrency=1, batch_size=batch_size)
        return await evaluator.evaluate(slos, at=at)  # type: ignore[arg-type]


async def test_batched_queries_give_each_slo_its_own_figures(backend: History) -> None:
    at = round(time.time(), 3)
    one_by_one = await direct(backend, SLOS, at, batch_size=1)
    batched = await direct(backend, SLOS, at, batch_size=4)
    assert one_by_one.queries == len(SLOS) + traffic_queries(backend) > 4
    assert batched.queries == math.ceil(len(SLOS) / 4) + traffic_queries(backend)
    assert batched.failed_queries == 0
    for slo in SLOS:
        alone, together = one_by_one.statuses[slo.id], batched.statuses[slo.id]
        assert together.error is None and alone.error is None
        assert together.error_ratios == alone.error_ratios, slo.id  # the same computation
    assert batched.statuses[SLOS[0].id].error_ratios != batched.statuses[SLOS[1].id].error_ratios


async def test_a_rejected_batch_is_queried_one_slo_at_a_time(
    backend: History, tmp_path: Path
) -> None:
    """Prometheus rejects the batch for one SLO's expression: only that SLO fails."""
    (tmp_path / "broken.yml").write_text(MANY_TO_MANY)
    [broken] = load_specs(tmp_path).slos
    slos = (*SLOS, broken)
    at = round(time.time(), 3)
    reference = await direct(backend, SLOS, at, batch_size=1)
    snapshot = await direct(backend, slos, at, batch_size=len(slos))
    # the batch, then each SLO on its own
    assert snapshot.queries == 1 + len(slos) + traffic_queries(backend)
    assert snapshot.failed_queries == 2  # the batch and the broken SLO's own query
    failed = snapshot.statuses[broken.id]
    # Prometheus: "many-to-many matching not allowed"; VictoriaMetrics: "duplicate time series"
    assert failed.error is not None
    assert "many-to-many" in failed.error or "duplicate time series" in failed.error
    for slo in SLOS:
        assert snapshot.statuses[slo.id].error is None
        assert snapshot.statuses[slo.id].error_ratios == reference.statuses[slo.id].error_ratios
