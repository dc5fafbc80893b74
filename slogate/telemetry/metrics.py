"""slogate's Prometheus metrics (DESIGN §6): per-SLO gauges read from the current snapshot at
scrape time, and counters of gate decisions, backend errors and evaluation cycles."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slogate.core.durations import format_duration
from slogate.core.gate import Decision
from slogate.core.incidents import Severity
from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.core.snapshot import Snapshot


class SnapshotCollector(Collector):
    """Per-SLO gauges, computed from whatever snapshot is current when Prometheus scrapes."""

    def __init__(self, current: Callable[[], Snapshot], clock: Callable[[], float]) -> None:
        self.current = current
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.current()
        now = self.clock()
        labels = ["service", "slo"]
        ratio = GaugeMetricFamily(
            "slogate_slo_error_ratio",
            "SLI error ratio over the window.",
            labels=[*labels, "window"],
        )
        burn = GaugeMetricFamily(
            "slogate_slo_burn_rate",
            "Error budget burn rate over the window.",
            labels=[*labels, "window"],
        )
        remaining = GaugeMetricFamily(
            "slogate_slo_error_budget_remaining_ratio",
            "Fraction of the period's error budget left (negative: overspent).",
            labels=labels,
        )
        objective = GaugeMetricFamily(
            "slogate_slo_objective_ratio", "SLO objective as a ratio (0.999).", labels=labels
        )
        firing = GaugeMetricFamily(
            "slogate_slo_alert_firing",
            "1 while the multiwindow burn-rate condition of the severity holds.",
            labels=[*labels, "severity"],
        )
        age = GaugeMetricFamily(
            "slogate_slo_data_age_seconds", "Age of the SLO's figures.", labels=labels
        )
        for status in snapshot.statuses.values():
            key = [status.slo.service, status.slo.name]
            objective.add_metric(key, status.slo.objective / 100)
            if not status.evaluated:
                continue
            for window, value in status.error_ratios.items():
                if value is not None:
                    ratio.add_metric([*key, format_duration(window)], value)
            for window, value in status.burn_rates.items():
                if value is not None:
                    burn.add_metric([*key, format_duration(window)], value)
            if status.error_budget_remaining is not None:
                remaining.add_metric(key, status.error_budget_remaining)
            firing.add_metric([*key, "page"], float(status.page))
            firing.add_metric([*key, "ticket"], float(status.ticket))
            age.add_metric(key, status.age(now) or 0.0)
        snap_age = GaugeMetricFamily(
            "slogate_snapshot_age_seconds", "Seconds since the current snapshot was evaluated."
        )
        if snapshot.taken_at is not None:
            snap_age.add_metric([], max(0.0, now - snapshot.taken_at))
        yield from (ratio, burn, remaining, objective, firing, age, snap_age)


class Overrides(Protocol):
    """What the overrides gauges read (`control.releases.ReleaseControl`)."""

    def freezes(self) -> Sequence[Freeze]: ...
    def exemptions(self) -> Sequence[Exemption]: ...


class Outbox(Protocol):
    """What the outbox gauges read (`notify.paging.Pager`)."""

    @property
    def open(self) -> Mapping[tuple[str, Severity], object]: ...

    def depth(self) -> Mapping[str, int]: ...


class OverridesCollector(Collector):
    """Active freezes (by kind) and exemptions."""

    def __init__(self, control: Overrides) -> None:
        self.control = control

    def collect(self) -> Iterator[GaugeMetricFamily]:
        freezes = GaugeMetricFamily(
            "slogate_freezes_active", "Active release freezes by kind.", labels=["kind"]
        )
        counts = {kind.value: 0 for kind in FreezeKind}
        for freeze in self.control.freezes():
            counts[freeze.kind.value] += 1
        for kind, count in counts.items():
            freezes.add_metric([kind], count)
        exemptions = GaugeMetricFamily("slogate_exemptions_active", "Active exemptions.")
        exemptions.add_metric([], len(self.control.exemptions()))
        yield from (freezes, exemptions)


class OutboxCollector(Collector):
    """Notifications waiting for their sink's acknowledgement."""

    def __init__(self, pager: Outbox) -> None:
        self.pager = pager

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "slogate_notification_outbox_depth",
            "Notifications not yet acknowledged, by sink.",
            labels=["sink"],
        )
        for sink, count in sorted(self.pager.depth().items()):
            depth.add_metric([sink], count)
        incidents = GaugeMetricFamily(
            "slogate_incidents_open", "Open incidents by severity.", labels=["severity"]
        )
        counts = {"page": 0, "ticket": 0}
        for _slo, severity in self.pager.open:
            counts[severity.value] += 1
        for name, count in counts.items():
            incidents.add_metric([name], count)
        yield from (depth, incidents)


class Telemetry:
    """The metric registry of one slogate process."""

    def __init__(
        self,
        current: Callable[[], Snapshot],
        *,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
        control: Overrides | None = None,
        pager: Outbox | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.registry.register(SnapshotCollector(current, clock))
        if control is not None:
            self.registry.register(OverridesCollector(control))
        if pager is not None:
            self.registry.register(OutboxCollector(pager))
        self.decisions = Counter(
            "slogate_gate_decisions",
            "Gate decisions by service and verdict.",
            ["service", "decision"],
            registry=self.registry,
        )
        self._decision_children: dict[tuple[str, str], Any] = {}
        self.evaluation_duration = Histogram(
            "slogate_evaluation_duration_seconds",
            "Duration of one evaluation cycle.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "slogate_backend_errors",
            "Backend queries that failed (unreachable, timeout, error answer).",
            registry=self.registry,
        )
        self.queries = Counter(
            "slogate_backend_queries", "Queries sent to the metric backend.", registry=self.registry
        )
        self.slos = Gauge("slogate_slos", "SLOs loaded.", registry=self.registry)
        self.reload_success = Gauge(
            "slogate_reload_success",
            "1 if the last reload succeeded, 0 if it kept the last good set.",
            ["kind"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "slogate_reloads",
            "Reloads of specs and config.",
            ["kind", "result"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "slogate_event_loop_lag_seconds",
            "How late the event loop ran a timer that was due: how long a gate call may have"
            " waited for its turn (evaluation, GC, a slow handler).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.notifications = Counter(
            "slogate_notifications",
            "Notifications by sink and outcome.",
            ["sink", "outcome"],
            registry=self.registry,
        )

    def observe_cycle(self, snapshot: Snapshot) -> None:
        self.evaluation_duration.observe(snapshot.duration)
        self.queries.inc(snapshot.queries)
        self.backend_errors.inc(snapshot.failed_queries)
        self.slos.set(len(snapshot.statuses))

    def observe_reload(self, kind: str, ok: bool) -> None:
        self.reload_success.labels(kind).set(1 if ok else 0)
        self.reloads.labels(kind, "success" if ok else "failure").inc()

    def observe_notification(self, sink: str, outcome: str) -> None:
        self.notifications.labels(sink, outcome).inc()

    def observe_decision(self, decision: Decision) -> None:
        key = (decision.request.service, decision.verdict.value)
        child = self._decision_children.get(key)
        if child is None:  # label lookups cost more than the increment: once per series
            child = self._decision_children[key] = self.decisions.labels(*key)
        child.inc()
