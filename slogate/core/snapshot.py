"""The immutable result of one evaluation cycle, which the gate and the exporters read.

An evaluation builds a new `Snapshot` and swaps it in whole; readers never see half a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from slogate.core.budget import alert_state, burn_rates, error_budget_remaining
from slogate.core.model import SLO


@dataclass(frozen=True, slots=True)
class SLOStatus:
    """One SLO's figures at `evaluated_at` (the cycle's pinned timestamp).

    `error` is the last attempt's failure; the figures then stay those of the last success, and
    their age says how old.
    """

    slo: SLO
    error_ratios: Mapping[float, float | None] = field(default_factory=lambda: MappingProxyType({}))
    evaluated_at: float | None = None
    attempted_at: float | None = None
    error: str | None = None
    burn_rates: Mapping[float, float | None] = field(init=False)
    error_budget_remaining: float | None = field(init=False)
    page: bool = field(init=False)
    ticket: bool = field(init=False)
    memo: dict[Any, Any] = field(init=False, repr=False, compare=False, default_factory=dict)
    """Derived data computed once per status by readers (e.g. its JSON figures)."""

    def __post_init__(self) -> None:  # 10,000 SLOs build 10,000 of these every cycle
        ratios = dict(self.error_ratios)
        slo = self.slo
        budget = slo.error_budget
        rates = burn_rates(ratios, budget)
        alerts = alert_state(slo.windows, ratios, budget)
        setattr_ = object.__setattr__
        setattr_(self, "error_ratios", MappingProxyType(ratios))
        setattr_(self, "burn_rates", MappingProxyType(rates))
        setattr_(
            self, "error_budget_remaining", error_budget_remaining(ratios.get(slo.period), budget)
        )
        setattr_(self, "page", alerts.page)
        setattr_(self, "ticket", alerts.ticket)

    @property
    def evaluated(self) -> bool:
        return self.evaluated_at is not None

    @property
    def has_data(self) -> bool:
        """Whether there were events in the SLO period (no traffic: no data)."""
        return self.error_budget_remaining is not None

    def age(self, now: float) -> float | None:
        return None if self.evaluated_at is None else max(0.0, now - self.evaluated_at)

    def failed(self, error: str, attempted_at: float) -> SLOStatus:
        """This status after a failed attempt: same figures, the failure recorded."""
        return SLOStatus(self.slo, self.error_ratios, self.evaluated_at, attempted_at, error)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every SLO's status after one cycle."""

    statuses: Mapping[str, SLOStatus]
    taken_at: float | None = None
    cycle: int = 0
    duration: float = 0.0
    queries: int = 0
    failed_queries: int = 0
    from_rules: int = 0
    """SLOs whose figures came from Sloth's recording rules this cycle."""
    _by_service: Mapping[str, tuple[SLOStatus, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_service: dict[str, list[SLOStatus]] = {}
        for status in self.statuses.values():
            by_service.setdefault(status.slo.service, []).append(status)
        object.__setattr__(self, "statuses", MappingProxyType(dict(self.statuses)))
        object.__setattr__(
            self,
            "_by_service",
            MappingProxyType({s: tuple(v) for s, v in sorted(by_service.items())}),
        )

    @classmethod
    def empty(cls, slos: Iterable[SLO]) -> Snapshot:
        """The snapshot before the first evaluation: every SLO known, none evaluated."""
        return cls({slo.id: SLOStatus(slo) for slo in slos})

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self._by_service)

    def of_service(self, service: str) -> tuple[SLOStatus, ...]:
        return self._by_service.get(service, ())

    def find(self, service: str, slo_name: str) -> SLOStatus | None:
        for status in self.of_service(service):
            if status.slo.name == slo_name:
                return status
        return None
