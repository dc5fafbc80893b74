"""Evaluation from Sloth's recording rules: one query per window for every SLO, and the same
numbers as direct queries on the same data."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from slogate.cli.demo import write_history
from slogate.cli.localprom import LocalPrometheus
from slogate.core.model import SLO
from slogate.evaluation.backend import Sample
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.prometheus import PrometheusClient
from slogate.evaluation.queries import recorded_ratios_query
from slogate.evaluation.specfiles import load_specs
from slogate.sloth.rules import RuleGroup, sli_rules
from slogate.sloth.rules_yaml import render_rule_file

from ..conftest import DEMO_SPECS
from .helpers import eventually

SLOS = load_specs(DEMO_SPECS).slos

ODD_SERIES = [  # (expr, labels): several series of one SLO, one with nothing finite, not Sloth's
    ("vector(0.002)", {"sloth_id": "odd-finite", "replica": "a"}),
    ("vector(0.001)", {"sloth_id": "odd-finite", "replica": "b"}),
    ("vector(1/0)", {"sloth_id": "odd-finite", "replica": "c"}),
    ("vector(0/0)", {"sloth_id": "odd-finite", "replica": "d"}),
    ("vector(0/0)", {"sloth_id": "odd-nan"}),
    ("vector(0.7)", {"team": "not-sloth"}),
]
ODD_RULES = yaml.safe_dump(
    {
        "groups": [
            {
                "name": "odd-series",
                "interval": "1s",
                "rules": [
                    {"record": "slo:sli_error:ratio_rate5m", "expr": expr, "labels": labels}
                    for expr, labels in ODD_SERIES
                ],
            }
        ]
    }
)


@pytest.fixture(scope="module")
def ruled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    """A Prometheus with the demo history and Sloth's SLI recording rules for the demo SLOs,
    with the period rule in its non-optimized (request-weighted) form, evaluated every second."""
    workdir = tmp_path_factory.mktemp("ruled")
    # History ends now: Prometheus cannot append rule results behind backfilled future data.
    write_history(workdir, math.floor(time.time() / 60) * 60)
    groups = [
        RuleGroup(f"sloth-slo-sli-recordings-{s.id}", sli_rules(s, optimized=False)) for s in SLOS
    ]
    rules = workdir / "slo-rules.yml"
    rules.write_text(render_rule_file(groups, "test"))
    odd = workdir / "odd-rules.yml"
    odd.write_text(ODD_RULES)
    prometheus = LocalPrometheus(workdir, scrape_interval="1s", rule_files=[rules, odd])
    prometheus.start()
    try:
        query = 'count(slo:sli_error:ratio_rate30d{sloth_id!=""})'

        def all_recorded() -> bool:
            result = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": query}).json()
            found = result["data"]["result"]
            return bool(found) and found[0]["value"][1] == str(len(SLOS))

        asyncio.run(eventually(all_recorded, "the recording rules", within=60, every=0.5))
        yield prometheus
    finally:
        prometheus.stop()


async def test_rules_and_direct_modes_agree(ruled: LocalPrometheus) -> None:
    async with PrometheusClient(ruled.url) as client:
        at = round(time.time(), 3)
        by_rules = await Evaluator(client, mode=Mode.AUTO).evaluate(SLOS, at=at)
        direct = await Evaluator(client, mode=Mode.DIRECT).evaluate(SLOS, at=at)
    assert by_rules.from_rules == len(SLOS)
    assert by_rules.queries == 8  # one per window, for every SLO at once
    assert direct.queries == len(SLOS) and direct.from_rules == 0  # one per SLO
    for slo in SLOS:
        ruled_status, direct_status = by_rules.statuses[slo.id], direct.statuses[slo.id]
        for window in slo.windows.windows:
            got, want = ruled_status.error_ratios[window], direct_status.error_ratios[window]
            if want is None:
                assert got is None, (slo.id, window)
            else:
                assert got == pytest.approx(want, rel=0.02), (slo.id, window)
        assert (
            ruled_status.page == direct_status.page and ruled_status.ticket == direct_status.ticket
        )


async def test_auto_mode_falls_back_per_slo(ruled: LocalPrometheus, tmp_path: Path) -> None:
    extra = tmp_path / "extra.yml"
    extra.write_text(
        (DEMO_SPECS / "checkout.yml")
        .read_text()
        .replace('service: "checkout"', 'service: "checkout-eu"')
    )
    slos: tuple[SLO, ...] = (*SLOS, *load_specs(extra).slos)
    async with PrometheusClient(ruled.url) as client:
        snapshot = await Evaluator(client, mode=Mode.AUTO).evaluate(slos)
        strict = await Evaluator(client, mode=Mode.RULES).evaluate(slos)
    assert snapshot.from_rules == len(SLOS)
    assert snapshot.queries == 8 + 1  # the rules, then one direct query for the one without
    eu = snapshot.statuses["checkout-eu-requests-availability"]
    assert eu.error is None and eu.burn_rates[300] == pytest.approx(0.2, rel=0.02)
    failed = strict.statuses["checkout-eu-requests-availability"]
    assert failed.error is not None and "no recording rules" in failed.error


async def test_recorded_ratios_take_each_slos_worst_finite_series(ruled: LocalPrometheus) -> None:
    """Several series of one SLO (e.g. replicas): the worst finite one; NaN only when no series
    is finite; one label per SLO in the answer; series without a Sloth id in one group of their
    own, with an empty id."""
    async with PrometheusClient(ruled.url) as client:

        async def both_odd_recorded() -> list[Sample]:
            samples = await client.query(recorded_ratios_query(300), time.time())
            odd = {i for s in samples if (i := s.labels.get("sloth_id", ""))[:4] == "odd-"}
            return samples if len(odd) == 2 else []

        samples = await eventually(both_odd_recorded, "the odd-series rules", every=0.5)
        odd = {i: s for s in samples if (i := s.labels.get("sloth_id", ""))[:4] == "odd-"}
    assert odd["odd-finite"].value == 0.002
    assert math.isnan(odd["odd-nan"].value)
    assert {tuple(s.labels) for s in samples} == {("sloth_id",), ()}
    assert [s.value for s in samples if not s.labels] == [0.7]
    assert {s.labels.get("sloth_id") for s in samples} >= {slo.id for slo in SLOS}
