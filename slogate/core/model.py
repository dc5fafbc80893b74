"""The SLO model: frozen values every other part of slogate reads.

One `SLO` is one Sloth SLO (for OpenSLO, one objective), already validated, with its period and
alert windows resolved. Specs map to it in `slogate.spec`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from slogate.core.windows import AlertWindows

SpecKind = Literal["prometheus/v1", "sloth.slok.dev/v1", "openslo/v1alpha"]
Labels = Mapping[str, str]

EMPTY: Labels = MappingProxyType({})


def no_labels() -> Labels:
    return EMPTY


def frozen_labels(labels: Mapping[str, str] | None) -> Labels:
    """An immutable copy of `labels`, keys sorted (the order Sloth writes them)."""
    return MappingProxyType(dict(sorted((labels or {}).items())))


@dataclass(frozen=True, slots=True)
class EventsSLI:
    """Ratio of bad events to all events; both queries contain `{{.window}}`."""

    error_query: str
    total_query: str


@dataclass(frozen=True, slots=True)
class RawSLI:
    """A query returning the error ratio directly; contains `{{.window}}`."""

    error_ratio_query: str


SLI = EventsSLI | RawSLI


@dataclass(frozen=True, slots=True)
class AlertMeta:
    """Labels and annotations of one generated alert (page or ticket)."""

    disable: bool = True
    labels: Labels = field(default_factory=no_labels)
    annotations: Labels = field(default_factory=no_labels)


@dataclass(frozen=True, slots=True)
class PluginRef:
    """A Sloth SLO plugin in a chain (used by rule generation, ignored by evaluation)."""

    id: str
    config: Any = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class PluginChain:
    override_previous: bool = False
    chain: tuple[PluginRef, ...] = ()


@dataclass(frozen=True, slots=True)
class SpecOrigin:
    """Where an SLO came from: the file, the document's format and, for Kubernetes, its object."""

    source: str
    kind: SpecKind
    document: int = 0
    k8s_name: str = ""
    k8s_namespace: str = ""
    k8s_labels: Labels = field(default_factory=no_labels)
    k8s_annotations: Labels = field(default_factory=no_labels)


@dataclass(frozen=True, slots=True)
class SLO:
    """One service level objective over a rolling period."""

    id: str
    service: str
    name: str
    objective: float
    sli: SLI
    windows: AlertWindows
    origin: SpecOrigin
    description: str = ""
    labels: Labels = field(default_factory=no_labels)
    alert_name: str = ""
    page_alert: AlertMeta = field(default_factory=AlertMeta)
    ticket_alert: AlertMeta = field(default_factory=AlertMeta)
    plugins: PluginChain = field(default_factory=PluginChain)
    group_plugins: PluginChain = field(default_factory=PluginChain)

    @property
    def period(self) -> float:
        return self.windows.period

    @property
    def error_budget(self) -> float:
        """Allowed error ratio: 1 − objective/100 (0.001 for 99.9)."""
        return (100 - self.objective) / 100

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.name)
