"""Delivery metrics: `slogate_deployments_total{service,outcome}` counts deployments reaching an
outcome, and `slogate_dora_*` gauges give each service's figures over the configured window
(recomputed after cycles, at most once a minute: `control.deployments`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slogate.config import DoraConfig
from slogate.core.dora import Deployment, Figures, Metric


class Deliveries(Protocol):
    """What the delivery metrics read and hook (`control.deployments.Deliveries`)."""

    on_transition: Callable[[Deployment], None]

    @property
    def latest(self) -> Mapping[str, Figures]: ...

    def config(self) -> DoraConfig: ...


BAND_LEVELS = {"elite": 4, "high": 3, "medium": 2, "low": 1}
"""`slogate_dora_band` as a number, so a dashboard can colour it with thresholds."""


class DoraCollector(Collector):
    def __init__(self, deliveries: Deliveries) -> None:
        self.deliveries = deliveries

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["service"]
        families = {
            "deployments": GaugeMetricFamily(
                "slogate_dora_deployments",
                "Deployments finished in the DORA window.",
                labels=labels,
            ),
            "failed": GaugeMetricFamily(
                "slogate_dora_failed_deployments",
                "Finished deployments in the DORA window that failed (outcome or incident).",
                labels=labels,
            ),
            "frequency": GaugeMetricFamily(
                "slogate_dora_deployment_frequency_per_day",
                "Deployments finished per day over the DORA window.",
                labels=labels,
            ),
            "lead": GaugeMetricFamily(
                "slogate_dora_lead_time_seconds",
                "Median commit-to-finished time over the DORA window.",
                labels=labels,
            ),
            "cfr": GaugeMetricFamily(
                "slogate_dora_change_failure_rate",
                "Failed / finished deployments over the DORA window.",
                labels=labels,
            ),
            "restore": GaugeMetricFamily(
                "slogate_dora_time_to_restore_seconds",
                "Median duration of resolved page incidents over the DORA window.",
                labels=labels,
            ),
            "window": GaugeMetricFamily(
                "slogate_dora_window_seconds", "The window of the slogate_dora_* figures."
            ),
        }
        band = GaugeMetricFamily(
            "slogate_dora_band",
            "DORA band of each figure: 4 elite, 3 high, 2 medium, 1 low.",
            labels=["service", "metric", "report_year"],
        )
        window = self.deliveries.config().window
        families["window"].add_metric([], window)
        for service, found in sorted(self.deliveries.latest.items()):
            families["deployments"].add_metric([service], found.deployments)
            families["failed"].add_metric([service], found.failed)
            families["frequency"].add_metric([service], found.deployment_frequency_per_day)
            for key, value in (
                ("lead", found.lead_time_seconds),
                ("cfr", found.change_failure_rate),
                ("restore", found.time_to_restore_seconds),
            ):
                if value is not None:  # nothing to measure: no series, rather than a fake 0
                    families[key].add_metric([service], value)
            for metric in Metric:
                name = found.bands[metric]
                if name is not None:
                    band.add_metric(
                        [service, metric.value, str(found.report_year)], BAND_LEVELS[name]
                    )
        yield from families.values()
        yield band


def observe_deliveries(registry: CollectorRegistry, deliveries: Deliveries) -> Counter:
    """Register the delivery metrics; count every outcome a deployment reaches."""
    registry.register(DoraCollector(deliveries))
    counter = Counter(
        "slogate_deployments",
        "Deployments reaching an outcome (in_progress when first seen).",
        ["service", "outcome"],
        registry=registry,
    )

    def count(deployment: Deployment) -> None:
        counter.labels(deployment.service, deployment.outcome.value).inc()

    deliveries.on_transition = count
    return counter
