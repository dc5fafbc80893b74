"""The gate: one decision per release step, from the in-memory snapshot, never the backend."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from slogate.core.ids import ulid
from slogate.core.overrides import Exemption, Freeze
from slogate.core.policy import GateRequest, Outcome, PolicyConfig, Reason, Verdict, decide
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.errors import UnknownServiceError


@dataclass(frozen=True, slots=True)
class Decision:
    """A gate answer and everything it was based on (what the audit trail keeps)."""

    id: str
    request: GateRequest
    verdict: Verdict
    reasons: tuple[Reason, ...]
    statuses: tuple[SLOStatus, ...]
    decided_at: float
    exemption_id: str = ""

    @property
    def allow(self) -> bool:
        return self.verdict.allows


def statuses_for(snapshot: Snapshot, request: GateRequest) -> tuple[SLOStatus, ...]:
    """The statuses a request is about; raises `UnknownServiceError` for unknown names."""
    statuses = snapshot.of_service(request.service)
    if not statuses:
        raise UnknownServiceError(f"unknown service {request.service!r}")
    if request.slo:
        statuses = tuple(s for s in statuses if s.slo.name == request.slo)
        if not statuses:
            raise UnknownServiceError(f"service {request.service!r} has no SLO {request.slo!r}")
    return statuses


def make_decision(
    request: GateRequest,
    snapshot: Snapshot,
    policy: PolicyConfig,
    *,
    now: float | None = None,
    freezes: Iterable[Freeze] = (),
    exemptions: Iterable[Exemption] = (),
) -> Decision:
    """Decide `request` against `snapshot`; pure apart from the id and the default clock."""
    at = time.time() if now is None else now
    statuses = statuses_for(snapshot, request)
    outcome: Outcome = decide(
        request, statuses, policy.resolver(request.service), at, freezes, exemptions
    )
    return Decision(
        id=ulid(at),
        request=request,
        verdict=outcome.verdict,
        reasons=outcome.reasons,
        statuses=statuses,
        decided_at=at,
        exemption_id=outcome.exemption.id if outcome.exemption else "",
    )


DecisionListener = Callable[[Decision], None]
