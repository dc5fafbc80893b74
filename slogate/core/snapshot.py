"""The immutable result of one evaluation cycle, which the gate and the exporters read.

An evaluation builds a new `Snapshot` and swaps it in whole; readers never see half a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from types import MappingProxyType
from typing import Any

from slogate.core.budget import alert_state, burn_rates, error_budget_remaining
from slogate.core.model import SLO

Figures = tuple[
    Sequence[float],
    Sequence[float | None],
    Sequence[float | None],
    float | None,
    bool,
    bool,
]
"""An evaluated status's windows, their error ratios and burn rates (in that order), its budget
remaining and alert states."""


@dataclass(frozen=True, slots=True)
class SLOStatus:
    """One SLO's figures at `evaluated_at` (the cycle's pinned timestamp).

    `error` is the last attempt's failure; the figures then stay those of the last success, and
    their age says how old.
    """

    slo: SLO
    error_ratios: Mapping[float, float | None] = field(default_factory=dict)
    evaluated_at: float | None = None
    attempted_at: float | None = None
    error: str | None = None
    burn_rates: Mapping[float, float | None] = field(init=False)
    error_budget_remaining: float | None = field(init=False)
    page: bool = field(init=False)
    ticket: bool = field(init=False)
    memo: dict[Any, Any] = field(init=False, repr=False, compare=False, default_factory=dict)
    """Derived data computed once per status by readers (e.g. its JSON figures).

    The mappings are plain dicts typed read-only, not `MappingProxyType`s: a dict of floats is
    not tracked by the cyclic garbage collector, a proxy is. At 10,000 SLOs the proxies were
    20,000 of the 30,000 objects each snapshot added for the collector, whose full collections
    (one or more a cycle, triggered by them) paused the serving loop for 50-120 ms each."""

    def __post_init__(self) -> None:  # 10,000 SLOs build 10,000 of these every cycle
        ratios = dict(self.error_ratios)
        slo = self.slo
        budget = slo.error_budget
        rates = burn_rates(ratios, budget)
        alerts = alert_state(slo.windows, ratios, budget)
        setattr_ = object.__setattr__
        setattr_(self, "error_ratios", ratios)
        setattr_(self, "burn_rates", rates)
        setattr_(
            self, "error_budget_remaining", error_budget_remaining(ratios.get(slo.period), budget)
        )
        setattr_(self, "page", alerts.page)
        setattr_(self, "ticket", alerts.ticket)

    @classmethod
    def restored(
        cls,
        slo: SLO,
        figures: Figures,
        evaluated_at: float | None,
        attempted_at: float | None,
        error: str | None = None,
    ) -> SLOStatus:
        """The status whose derived figures (`figures()`, computed elsewhere from the same SLO)
        are taken as they are: equal to `SLOStatus(slo, ratios, ...)`, at a quarter of its cost.
        The serving process takes in a worker's 10,000 statuses a cycle this way."""
        windows, ratios, burns, remaining, page, ticket = figures
        status = object.__new__(cls)
        for name, value in (
            ("slo", slo),
            ("error_ratios", dict(zip(windows, ratios, strict=True))),
            ("evaluated_at", evaluated_at),
            ("attempted_at", attempted_at),
            ("error", error),
            ("burn_rates", dict(zip(windows, burns, strict=True))),
            ("error_budget_remaining", remaining),
            ("page", page),
            ("ticket", ticket),
            ("memo", {}),
        ):
            object.__setattr__(status, name, value)
        return status

    def figures(self) -> Figures:
        """What `restored` needs besides the SLO and times, as plain values."""
        return (
            tuple(self.error_ratios),
            tuple(self.error_ratios.values()),
            tuple(self.burn_rates.values()),
            self.error_budget_remaining,
            self.page,
            self.ticket,
        )

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
        return SLOStatus.restored(self.slo, self.figures(), self.evaluated_at, attempted_at, error)


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
    grouped: InitVar[Mapping[str, Sequence[SLOStatus]] | None] = None
    """`statuses` already grouped by service, in their order (a large snapshot taken in a
    chunk at a time, so that building it never holds the event loop long)."""
    _by_service: Mapping[str, tuple[SLOStatus, ...]] = field(init=False, repr=False)

    def __post_init__(self, grouped: Mapping[str, Sequence[SLOStatus]] | None) -> None:
        by_service = grouped if grouped is not None else group_by_service(self.statuses.values())
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


def group_by_service(
    statuses: Iterable[SLOStatus], into: dict[str, list[SLOStatus]] | None = None
) -> dict[str, list[SLOStatus]]:
    """`statuses` by service, in their order (added to `into`, if given)."""
    by_service: dict[str, list[SLOStatus]] = {} if into is None else into
    for status in statuses:
        by_service.setdefault(status.slo.service, []).append(status)
    return by_service
