"""Which incidents should be open: one per (SLO, severity), from a snapshot. Pure.

- page: the SLO's page condition (fast burn) holds, or its budget is exhausted. An exhaustion
  page stays open while the service is halted for that SLO, i.e. until the budget has
  recovered above the policy's recovery threshold — the same hysteresis as the release halt.
- ticket: the ticket condition (slow burn) holds.

An SLO without fresh figures keeps whatever incidents it has: missing data neither opens nor
resolves anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from slogate.core.durations import format_duration
from slogate.core.model import Labels, frozen_labels, no_labels
from slogate.core.snapshot import SLOStatus

DEFAULT_ALERT_NAME = "SLOErrorBudgetBurn"


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


IncidentKey = tuple[str, Severity]


@dataclass(frozen=True, slots=True)
class Incident:
    """What a sink is told about one (SLO, severity)."""

    slo_id: str
    service: str
    slo: str
    severity: Severity
    alertname: str
    summary: str
    description: str
    labels: Labels = field(default_factory=no_labels)
    annotations: Labels = field(default_factory=no_labels)
    burn_rates: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    error_budget_remaining: float | None = None
    objective: float = 0.0
    link: str = ""

    @property
    def key(self) -> IncidentKey:
        return (self.slo_id, self.severity)

    @property
    def dedup_key(self) -> str:
        """Stable across restarts and replicas: the same incident is always the same key."""
        return f"slogate/{self.slo_id}/{self.severity.value}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _rates(status: SLOStatus) -> dict[str, float | None]:
    return {
        format_duration(w): (None if r is None else round(r, 4))
        for w, r in sorted(status.burn_rates.items())
    }


def build_incident(
    status: SLOStatus, severity: Severity, causes: list[str], base_url: str
) -> Incident:
    slo = status.slo
    meta = slo.page_alert if severity is Severity.PAGE else slo.ticket_alert
    rates = _rates(status)
    summary = f"[{slo.service}] {slo.name}: {' and '.join(causes)}"
    description = (
        f"SLO {slo.name} of {slo.service} ({slo.objective:g}% over {format_duration(slo.period)}):"
        f" error budget left {_pct(status.error_budget_remaining)}; burn rates "
        + ", ".join(f"{w} {'n/a' if r is None else f'{r:.2f}'}" for w, r in rates.items())
    )
    labels = {
        "alertname": slo.alert_name or DEFAULT_ALERT_NAME,
        "severity": severity.value,
        # The spec's alert labels (its routing) win over ours, except identity labels; Sloth's
        # own `sloth_severity` always says which condition this is.
        **meta.labels,
        "service": slo.service,
        "slo": slo.name,
        "sloth_severity": severity.value,
        "sloth_id": slo.id,
    }
    link = f"{base_url.rstrip('/')}/v1/slos/{slo.service}/{slo.name}" if base_url else ""
    annotations = {
        **meta.annotations,
        "summary": summary,
        "description": description,
        "error_budget_remaining": _pct(status.error_budget_remaining),
        **({"slo_status_url": link} if link else {}),
    }
    return Incident(
        slo_id=slo.id,
        service=slo.service,
        slo=slo.name,
        severity=severity,
        alertname=labels["alertname"],
        summary=summary,
        description=description,
        labels=frozen_labels(labels),
        annotations=frozen_labels(annotations),
        burn_rates=MappingProxyType(rates),
        error_budget_remaining=status.error_budget_remaining,
        objective=slo.objective,
        link=link,
    )


def fresh(status: SLOStatus) -> bool:
    return status.evaluated and status.error is None and status.attempted_at == status.evaluated_at


def desired_incidents(
    statuses: Iterable[SLOStatus],
    halted: set[tuple[str, str]],
    open_keys: set[IncidentKey],
    base_url: str = "",
) -> dict[IncidentKey, Incident | None]:
    """Every incident that should be open, by key. One already open, or kept open because its
    SLO has no fresh figures, is marked `None` (no new content, no change): only new incidents
    are built, so a cycle of thousands of burning SLOs costs a set lookup each."""
    wanted: dict[IncidentKey, Incident | None] = {}
    for status in statuses:
        slo = status.slo
        if not fresh(status):
            for severity in Severity:
                if (slo.id, severity) in open_keys:
                    wanted[(slo.id, severity)] = None
            continue
        page_causes = []
        if status.page:
            page_causes.append("burning error budget fast (page condition)")
        remaining = status.error_budget_remaining
        if (remaining is not None and remaining <= 0) or (slo.service, slo.name) in halted:
            page_causes.append(f"error budget exhausted ({_pct(remaining)} left)")
        if page_causes:
            key = (slo.id, Severity.PAGE)
            wanted[key] = (
                None
                if key in open_keys
                else build_incident(status, Severity.PAGE, page_causes, base_url)
            )
        if status.ticket:
            key = (slo.id, Severity.TICKET)
            cause = "burning error budget (ticket condition)"
            wanted[key] = (
                None
                if key in open_keys
                else build_incident(status, Severity.TICKET, [cause], base_url)
            )
    return wanted


def incident_to_json(incident: Incident) -> dict[str, object]:
    return {
        "slo_id": incident.slo_id,
        "service": incident.service,
        "slo": incident.slo,
        "severity": incident.severity.value,
        "alertname": incident.alertname,
        "summary": incident.summary,
        "description": incident.description,
        "labels": dict(incident.labels),
        "annotations": dict(incident.annotations),
        "burn_rates": dict(incident.burn_rates),
        "error_budget_remaining": incident.error_budget_remaining,
        "objective": incident.objective,
        "link": incident.link,
    }


def _rates_from(value: object) -> dict[str, float | None]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): float(v) if isinstance(v, int | float) else None for k, v in value.items()}


def incident_from_json(doc: Mapping[str, object]) -> Incident:
    def text(key: str) -> str:
        value = doc.get(key, "")
        return value if isinstance(value, str) else str(value)

    def mapping(key: str) -> dict[str, str]:
        value = doc.get(key) or {}
        return dict(value) if isinstance(value, Mapping) else {}

    remaining = doc.get("error_budget_remaining")
    objective = doc.get("objective", 0.0)
    return Incident(
        slo_id=text("slo_id"),
        service=text("service"),
        slo=text("slo"),
        severity=Severity(text("severity")),
        alertname=text("alertname"),
        summary=text("summary"),
        description=text("description"),
        labels=frozen_labels(mapping("labels")),
        annotations=frozen_labels(mapping("annotations")),
        burn_rates=MappingProxyType(_rates_from(doc.get("burn_rates"))),
        error_budget_remaining=remaining if isinstance(remaining, int | float) else None,
        objective=float(objective) if isinstance(objective, int | float) else 0.0,
        link=text("link"),
    )
