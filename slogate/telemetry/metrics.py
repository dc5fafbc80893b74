"""slogate's Prometheus metrics (DESIGN §6): per-SLO gauges read from the current snapshot at
scrape time (`slo_metrics`), and counters of gate decisions, backend errors and evaluation
cycles."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from slogate.core.gate import Decision
from slogate.core.incidents import Severity
from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.core.snapshot import Snapshot
from slogate.telemetry.slo_metrics import SLOMetrics


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


class Sizes(Protocol):
    @property
    def rows(self) -> Mapping[str, int]: ...
    @property
    def bytes(self) -> int: ...


class FreeSpace(Protocol):
    @property
    def free_bytes(self) -> int: ...
    @property
    def full(self) -> bool: ...


class Retention(Protocol):
    """What the store gauges read (`store.housekeeping.Housekeeping`)."""

    @property
    def sizes(self) -> Sizes | None: ...
    @property
    def pruned(self) -> Mapping[str, int]: ...
    @property
    def guard(self) -> FreeSpace | None: ...


class StoreCollector(Collector):
    """The store's size after the last housekeeping pass, what retention deleted, free space."""

    def __init__(self, housekeeping: Retention) -> None:
        self.housekeeping = housekeeping

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        rows = GaugeMetricFamily("slogate_store_rows", "Rows by table.", labels=["table"])
        size = GaugeMetricFamily("slogate_store_bytes", "Bytes the store uses on disk.")
        if (sizes := self.housekeeping.sizes) is not None:
            for table, count in sorted(sizes.rows.items()):
                rows.add_metric([table], count)
            size.add_metric([], sizes.bytes)
        pruned = CounterMetricFamily(
            "slogate_store_pruned_rows", "Rows deleted by retention.", labels=["table"]
        )
        for table, count in sorted(self.housekeeping.pruned.items()):
            pruned.add_metric([table], count)
        yield from (rows, size, pruned)
        if (guard := self.housekeeping.guard) is not None:
            free = GaugeMetricFamily(
                "slogate_store_free_bytes", "Free space on the store's file system."
            )
            free.add_metric([], guard.free_bytes)
            full = GaugeMetricFamily(
                "slogate_store_full",
                "1 while free space is below store.min_free_mb and decisions are refused"
                " (503 store_full): alert on it.",
            )
            full.add_metric([], float(guard.full))
            yield from (free, full)


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
        housekeeping: Retention | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.slo_gauges = SLOMetrics(current, clock)
        """The per-SLO gauges, rendered beside the registry's (`exposition`)."""
        if housekeeping is not None:
            self.registry.register(StoreCollector(housekeeping))
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

        # --- hostile load: connections, rate limits, the store's size (server/limits, ...) ---
        self.connections_rejected = Counter(
            "slogate_connections_rejected",
            "Connections refused or closed: per_peer, total (caps), request_timeout.",
            ["reason"],
            registry=self.registry,
        )
        self.connections_open = Gauge(
            "slogate_connections_open", "Open client connections.", registry=self.registry
        )
        self.rate_limited = Counter(
            "slogate_rate_limited",
            "Requests answered 429 by route class.",
            ["route"],
            registry=self.registry,
        )

    def observe_rejected_connection(self, reason: str) -> None:
        self.connections_rejected.labels(reason).inc()

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

    async def exposition(self) -> bytes:
        """`/metrics`: the per-SLO gauges, then the registry's metrics."""
        return (await self.slo_gauges.text()).encode() + generate_latest(self.registry)

    def observe_decision(self, decision: Decision) -> None:
        key = (decision.request.service, decision.verdict.value)
        child = self._decision_children.get(key)
        if child is None:  # label lookups cost more than the increment: once per series
            child = self._decision_children[key] = self.decisions.labels(*key)
        child.inc()
