"""Where an evaluation cycle's time goes: the backend's own evaluation, waiting for answers,
decoding them, building the SLO statuses and the snapshot.

A client adds to its `QueryCosts` as it goes; the evaluator takes the difference over a cycle
and adds its own share (`CycleCost`). Wall-clock seconds (`time.perf_counter`): a cycle's CPU is
what the serving loop cannot spend on gate calls, its waits are not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class QueryCosts:
    """Running totals of one backend client."""

    queries: int = 0
    waiting: float = 0.0
    """From sending a query to its whole answer received."""
    decoding: float = 0.0
    """Turning answers' bytes into samples."""
    backend: float = 0.0
    """The backend's own evaluation time, as it reports it (Prometheus' `stats=all`:
    `evalTotalTime`), summed over queries that may overlap; 0 when it does not."""
    samples: int = 0
    """Raw samples the backend read for the queries (`stats=all`: `totalQueryableSamples`);
    0 when it does not say. Unlike times, it does not depend on the machine's load."""

    def copy(self) -> QueryCosts:
        return QueryCosts(self.queries, self.waiting, self.decoding, self.backend, self.samples)


@dataclass(frozen=True, slots=True)
class CycleCost:
    """One cycle's seconds, by where they went."""

    total: float = 0.0
    queries: int = 0
    backend: float = 0.0
    waiting: float = 0.0
    decoding: float = 0.0
    building: float = 0.0
    """Statuses from the decoded figures (ratios, burn rates, alert states)."""
    snapshot: float = 0.0
    """The new snapshot built from the statuses (swapping it in is one assignment)."""
    samples: int = 0
    """Raw samples the backend read (`QueryCosts.samples`)."""

    @classmethod
    def of(
        cls,
        before: QueryCosts,
        after: QueryCosts,
        *,
        total: float,
        building: float,
        snapshot: float,
    ) -> CycleCost:
        return cls(
            total=total,
            queries=after.queries - before.queries,
            backend=after.backend - before.backend,
            waiting=after.waiting - before.waiting,
            decoding=after.decoding - before.decoding,
            building=building,
            snapshot=snapshot,
            samples=after.samples - before.samples,
        )
